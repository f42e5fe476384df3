"""Lowering keeps the program's meaning: run the IR with the reference interpreter and compare
with what the same code means in Python."""

from __future__ import annotations

import textwrap

import pytest

from agentjit.ir import ForOp, IfOp, ParseError, ToolCallOp
from agentjit.ir.interpreter import Interpreter
from tests.helpers import compile_dsl


def run(source: str, tools=None, **args):
    module = compile_dsl(source)
    interp = Interpreter(tools or (lambda name, kw, tab=0: None))
    return interp.run(module, "main", args), interp.trace


def errors(source: str) -> list[tuple[str, int, str]]:
    with pytest.raises(ParseError) as info:
        compile_dsl(source)
    return [(d.code, d.loc.line, d.message) for d in info.value.diagnostics]


PURE_CASES = [
    ("return 7 // 2 + 7 % 3 - -1", 5),
    ("return 1 < 2 < 3 and not 3 < 2", True),
    ("return [x * x for x in range(5) if x % 2 == 0]", [0, 4, 16]),
    ("return sorted(['b', 'a', 'c'], reverse=True)", ["c", "b", "a"]),
    ("return max([{'n': 1}, {'n': 5}], key=lambda d: d['n'])['n']", 5),
    ("return 'yes' if contains('Hello World', 'world') else 'no'", "yes"),
    ("return format('{a}-{b}', a=1, b='x')", "1-x"),
    ("return join(split('a,b,c', ','), sep='+')", "a+b+c"),
    ("return 0 or 'default'", "default"),
]


@pytest.mark.parametrize(("body", "expected"), PURE_CASES)
def test_pure_expressions(body: str, expected: object) -> None:
    assert run(f"def main() -> any:\n    {body}\n")[0] == expected


def test_loop_carried_value_is_widened_int_to_float() -> None:
    source = """
    def main(prices: list[float]) -> float:
        total = 0
        for p in prices:
            total += p
        return total
    """
    assert run(source, prices=[1.5, 2.25])[0] == 3.75
    loop = next(op for op in compile_dsl(source).walk() if isinstance(op, ForOp))
    assert str(loop.init[0].type) == "float"


def test_early_return_moves_the_rest_into_the_else_branch() -> None:
    source = """
    def main(n: int) -> str:
        if n < 0:
            return "negative"
        elif n == 0:
            return "zero"
        x = n * 2
        if x > 10:
            return "big"
        return "small"
    """
    assert [run(source, n=n)[0] for n in (-1, 0, 3, 8)] == ["negative", "zero", "small", "big"]


def test_tool_calls_are_threaded_in_program_order() -> None:
    source = """
    use shop

    def main() -> int:
        go_home()
        n = 0
        for q in ["a", "b"]:
            search(query=q)
            n += len(list_products())
        if n > 0:
            add_to_basket(title="x")
        return n
    """
    products = [{"title": "p", "price": 1.0, "in_stock": True, "url": ""}]
    result, trace = run(source, lambda name, kw, tab=0: products if "list" in name else None)
    assert result == 2
    assert [name.split(".")[1] for name, _ in trace] == [
        "go_home",
        "search",
        "list_products",
        "search",
        "list_products",
        "add_to_basket",
    ]


def test_comprehension_filter_guards_effectful_items() -> None:
    source = """
    use shop

    def main(titles: list[str]) -> int:
        details = [product_details(title=t) for t in titles if t != "skip"]
        return len(details)
    """
    result, trace = run(
        source, lambda name, kw, tab=0: {"title": kw["title"]}, titles=["a", "skip", "b"]
    )
    assert result == 2 and [kw["title"] for _, kw in trace] == ["a", "b"]
    module = compile_dsl(source)
    assert any(isinstance(op, IfOp) for op in module.walk())


def test_helper_functions_are_inlined() -> None:
    source = """
    use shop

    def buy(title: str, n: int = 1) -> str:
        add_to_basket(title=title, quantity=n)
        return "bought " + title

    def main() -> str:
        first = buy("a")
        return first + ", " + buy(title="b", n=3)
    """
    result, trace = run(source)
    assert result == "bought a, bought b"
    assert [kw for _, kw in trace] == [{"title": "a", "quantity": 1}, {"title": "b", "quantity": 3}]
    main = compile_dsl(source).function("main")
    assert sum(isinstance(op, ToolCallOp) for op in main.walk()) == 2


def test_recursion_is_rejected() -> None:
    source = "def f(n: int) -> int:\n    return f(n)\n\ndef main() -> int:\n    return f(1)\n"
    assert [(code, line) for code, line, _ in errors(source)] == [("recursion", 2)]


def test_several_errors_in_one_run() -> None:
    source = textwrap.dedent(
        """\
        use shop

        def main() -> str:
            open_category(nme="x")
            y = undefined_thing + 1
            for p in list_products():
                z = p.price
            return z
        """
    )
    found = errors(source)
    assert [code for code, _, _ in found] == ["unknown-keyword", "undefined-name", "undefined-name"]
    assert "only defined inside the loop" in found[-1][2]


def test_duplicate_use_is_a_warning_not_an_error() -> None:
    from agentjit import compile_text

    compiled = compile_text("use shop\nuse shop\n\ndef main() -> None:\n    go_home()\n")
    assert [(d.code, d.loc.line) for d in compiled.warnings] == [("duplicate-use", 2)]


@pytest.mark.parametrize(
    "expr", ["not " * 500 + "x", "[" * 300 + "1" + "]" * 300, "x and " * 300 + "x"], ids=len
)
def test_absurd_nesting_is_a_diagnostic_not_a_crash(expr: str) -> None:
    source = f"def main(x: bool) -> any:\n    return {expr}\n"
    assert [code for code, _, _ in errors(source)] == ["too-deep"]


def test_redundant_parentheses_do_not_nest() -> None:
    assert run("def main() -> int:\n    return " + "(" * 500 + "1" + ")" * 500 + "\n")[0] == 1


def test_long_flat_chains_compile() -> None:
    assert run("def main() -> int:\n    return 1" + " + 1" * 2000 + "\n")[0] == 2001


def test_many_early_returns_and_call_chains_are_diagnostics() -> None:
    returns = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(300))
    assert "too-deep" in {
        c for c, _, _ in errors(f"def main(x: int) -> int:\n{returns}    return x\n")
    }
    chain = "".join(f"def f{i}(x: int) -> int:\n    return f{i + 1}(x)\n\n" for i in range(300))
    source = (
        chain + "def f300(x: int) -> int:\n    return x\n\ndef main() -> int:\n    return f0(1)\n"
    )
    assert "too-deep" in {c for c, _, _ in errors(source)}
