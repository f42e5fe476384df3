"""`cse`: what it merges, what it must keep apart, and that programs behave the same afterwards."""

from __future__ import annotations

import pytest

from agentjit.ir import ModuleOp, parse_ir, print_ir, verify
from agentjit.passes import PassManager
from agentjit.passes.cse import CommonSubexpressionPass
from tests.helpers import assert_changes_once, compile_dsl, observe


def cse(module: ModuleOp) -> str:
    PassManager.from_pipeline("cse").run(module)
    return print_ir(module)


def count(module: ModuleOp, name: str) -> int:
    return sum(1 for op in module.walk() if op.name == name)


IR_IN = """\
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%tab: !tab):
    %0 = "dsl.const"() {value = 1} : () -> (any)
    %1 = "dsl.const"() {value = true} : () -> (any)
    %2 = "dsl.const"() {value = 1.0} : () -> (any)
    %3 = "dsl.const"() {value = 1} : () -> (any)
    %4 = "dsl.list"(%0, %1, %2, %3) : (any, any, any, any) -> (list<any>)
    "func.return"(%4, %tab) : (list<any>, !tab) -> ()
  }) {arg_names = [], result_types = [list<any>, !tab], sym_name = "main"} : () -> ()
}) {uses = []} : () -> ()
"""

IR_OUT = """\
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%tab: !tab):
    %0 = "dsl.const"() {value = 1} : () -> (any)
    %1 = "dsl.const"() {value = true} : () -> (any)
    %2 = "dsl.const"() {value = 1.0} : () -> (any)
    %3 = "dsl.list"(%0, %1, %2, %0) : (any, any, any, any) -> (list<any>)
    "func.return"(%3, %tab) : (list<any>, !tab) -> ()
  }) {arg_names = [], result_types = [list<any>, !tab], sym_name = "main"} : () -> ()
}) {uses = []} : () -> ()
"""


def test_constants_equal_in_python_but_not_in_the_ir_stay_apart() -> None:
    assert cse(parse_ir(IR_IN)) == IR_OUT


def test_merges_pure_ops_and_commutative_operands() -> None:
    module = compile_dsl(
        """
        def main(a: int, b: int) -> list[int]:
            return [a * b, b * a, a + b, a + b, a - b, b - a, len(str(a)), len(str(a))]
        """
    )
    cse(module)
    assert count(module, "dsl.mul") == 1  # a * b == b * a
    assert count(module, "dsl.add") == 1
    assert count(module, "dsl.sub") == 2  # a - b != b - a
    assert count(module, "dsl.builtin") == 2


def test_merges_llm_calls_only_at_temperature_zero() -> None:
    module = compile_dsl(
        """
        def main(topic: str) -> list[str]:
            a = llm("name a {t}", t=topic)
            b = llm("name a {t}", t=topic)
            c = llm("name a {t}", t=topic, temperature=0.7)
            d = llm("name a {t}", t=topic, temperature=0.7)
            e = llm("name a {t}", t=topic, model="other")
            return [a, b, c, d, e]
        """
    )
    assert count(module, "llm.call") == 5
    cse(module)
    temperatures = [op.temperature for op in module.walk() if op.name == "llm.call"]
    assert sorted(temperatures) == [0, 0, 0.7, 0.7]  # a/b merged; model "other" kept


def test_never_merges_tool_calls_or_ops_with_regions() -> None:
    module = compile_dsl(
        """
        use shop

        def main() -> list[str]:
            open_category(name="Cables")
            first = sorted(list_products(), key=lambda p: p.price)
            second = sorted(list_products(), key=lambda p: p.price)
            return [first[0].title, second[0].title]
        """
    )
    cse(module)
    reads = [op for op in module.walk() if op.name == "tool.call"]
    assert len(reads) == 3
    assert sum(1 for op in module.walk() if op.name == "dsl.builtin" and op.regions) == 2


def test_scopes_follow_dominance() -> None:
    module = compile_dsl(
        """
        def main(xs: list[int], k: int, flag: bool) -> int:
            base = k + 1
            total = 0
            for x in xs:
                total += x * (k + 1)
            if flag:
                y = k * 3
            else:
                y = k * 3
            return total + y + k * 3 + base
        """
    )
    cse(module)
    verify(module)
    loop = next(op for op in module.walk() if op.name == "ctl.for")
    mul = next(op for op in loop.walk() if op.name == "dsl.mul")
    assert mul.rhs.op.parent is loop.parent  # k + 1 in the body reuses `base` from outside
    assert sum(1 for op in loop.walk() if op.name == "dsl.add") == 1  # only total + ...
    # One k * 3 per branch and one after the if: siblings and later ops never share.
    assert count(module, "dsl.mul") == 4


def test_sets_changed_only_when_it_changes_something() -> None:
    module = compile_dsl("def main(x: int) -> int:\n    return (x + 1) * (x + 1)\n")
    assert_changes_once(CommonSubexpressionPass(), module)


PROGRAMS = [
    """
    use shop

    def main(category: str = "Books") -> list[str]:
        open_category(name=category)
        listed = list_products()
        a = llm("pick from {n}", n=len(listed))
        b = llm("pick from {n}", n=len(listed))
        cheap = [p.title for p in listed if p.price < 20.0 and len(listed) > 1]
        if len(cheap) > 0:
            add_to_basket(title=cheap[0])
            add_to_basket(title=cheap[0])
        return [a, b] + cheap
    """,
    """
    use tracker

    def main(ids: list[int]) -> list[str]:
        login(user="alice", password="secret")
        out = []
        for i in ids:
            t = view_ticket(id=i)
            u = view_ticket(id=i)
            if t.status == "new" and u.status == "new":
                add_comment(id=i, text="status " + t.status)
            out = out + [t.status + "/" + u.status]
        return out
    """,
    """
    def main(xs: list[int]) -> list[int]:
        return [x * 2 + len(xs) for x in xs if x * 2 > len(xs)]
    """,
]


@pytest.mark.parametrize("source", PROGRAMS, ids=["shop", "tracker", "pure"])
def test_behaviour_is_preserved(source: str) -> None:
    module = compile_dsl(source)
    before = observe(module)
    cse(module)
    assert observe(module) == before
