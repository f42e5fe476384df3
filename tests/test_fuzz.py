"""Hypothesis fuzzing of the frontend and of the textual IR reader.

The property, for any input text: `agentjit.compile_text` either returns a module that verifies
and round-trips through the textual IR (`print_ir(parse_ir(print_ir(m))) == print_ir(m)`), or
raises a `CompilerError` whose every diagnostic has a code, a message and a location on a real
line. Any other exception (AssertionError, KeyError, lark's VisitError, RecursionError, ...) is a
compiler bug. The same holds, minus the location requirement, for `parse_ir` + `verify` on
mutated IR text.

Inputs: token soup drawn from the DSL's vocabulary; programs generated from the grammar; the
`examples/*.agent` files and the invalid-program corpus `tests/programs/**/*.agent` with random
mutations; arbitrary unicode text; deeply nested expressions (a fixed, parametrized set); and the
printed IR of the valid seeds with random mutations.

Example counts: `AGENTJIT_FUZZ_EXAMPLES` (default 10000) is the total over all tests in this
file, shared out by the weights below. Run fewer while developing:

    AGENTJIT_FUZZ_EXAMPLES=500 python -m pytest tests/test_fuzz.py
    python -m pytest -m "not fuzz"          # skip fuzzing altogether

Runs are random; on a failure Hypothesis prints the falsifying input and a
`@reproduce_failure(...)` blob, and replays it from `.hypothesis/` on the next local run.
Pass `--hypothesis-seed=N` to pytest to fix the seed.
"""

from __future__ import annotations

import functools
import os
import re
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentjit
from agentjit.ir import (
    BUILTINS,
    CompilerError,
    Diagnostic,
    Location,
    parse_ir,
    print_ir,
    verify,
)
from tests.helpers import assert_round_trip

pytestmark = pytest.mark.fuzz

# ---- settings ----------------------------------------------------------------------------------

TOTAL_EXAMPLES = int(os.environ.get("AGENTJIT_FUZZ_EXAMPLES", "10000"))

# Share of TOTAL_EXAMPLES per test; sums to 1.
WEIGHTS = {
    "soup": 0.2,
    "generated": 0.22,
    "mutated": 0.32,
    "unicode": 0.08,
    "ir": 0.18,
}

BASE_SETTINGS = settings(
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
)


def fuzz_settings(kind: str) -> settings:
    return settings(BASE_SETTINGS, max_examples=max(1, round(TOTAL_EXAMPLES * WEIGHTS[kind])))


# ---- the properties ----------------------------------------------------------------------------


def check_error(exc: CompilerError, *, located: bool) -> None:
    """A `CompilerError` is well formed: diagnostics with code, message and (if `located`) a
    location on a real line; it renders and serialises without raising."""
    assert exc.diagnostics, "CompilerError without diagnostics"
    for diag in exc.diagnostics:
        assert isinstance(diag, Diagnostic), diag
        assert isinstance(diag.code, str) and diag.code, diag
        assert isinstance(diag.message, str) and diag.message, diag
        assert isinstance(diag.loc, Location), diag
        if located:
            assert diag.loc.line >= 1, f"diagnostic without a source line: {diag}"
        diag.render()
    exc.to_json()


def check_compiles_or_reports(text: str) -> None:
    """The frontend property. Anything but a `CompilerError` escapes and fails the test."""
    try:
        compiled = agentjit.compile_text(text, "<fuzz>")
    except CompilerError as exc:
        check_error(exc, located=True)
        return
    verify(compiled.module)
    assert_round_trip(compiled.module, "<fuzz-roundtrip>")


def check_ir_parses_or_reports(text: str) -> None:
    """The textual-IR property: a module or a `CompilerError`, nothing else."""
    try:
        op = parse_ir(text, "<fuzz-ir>")
        verify(op)
    except CompilerError as exc:
        check_error(exc, located=False)


# ---- vocabulary --------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
SEED_FILES = sorted(ROOT.glob("examples/*.agent")) + sorted(ROOT.glob("tests/programs/**/*.agent"))
"""Mutation seeds: the valid examples and the corpus of invalid programs (read at import)."""
SEED_TEXTS: list[str] = [p.read_text(encoding="utf-8") for p in SEED_FILES] or [
    "use shop\n\ndef main() -> int:\n    return 1\n"
]

KEYWORDS = [
    "use", "def", "if", "elif", "else", "for", "in", "return", "assert", "pass", "lambda",
    "and", "or", "not", "True", "False", "None",
]  # fmt: skip
OPERATORS = [
    "=", "+=", "-=", "*=", "/=", "+", "-", "*", "/", "//", "%", "<", ">", "==", ">=", "<=",
    "!=", ".", ",", ":", "->", "(", ")", "[", "]", "{", "}", "not in",
]  # fmt: skip
SITES = ["shop", "tracker", "nosuchsite"]
TOOLS = [
    "go_home", "open_category", "search", "list_products", "product_details",
    "add_to_basket", "view_basket", "checkout", "login", "query_tickets", "view_ticket",
    "new_ticket", "add_comment",
]  # fmt: skip
CALLEES = [
    *TOOLS, *sorted(BUILTINS), "llm", "main", "helper", "undefined_fn", "x", "shop.search",
    "tracker.login", "shop.nope", "p.title", "(len)", "break", "continue",
]  # fmt: skip
TYPE_NAMES = ["str", "int", "float", "bool", "any", "list", "dict", "Product", "tab"]
VARIABLES = [
    "x", "y", "n", "s", "p", "items", "best", "total", "category", "title", "name", "quantity",
    "query", "id", "text", "verdict", "_", "tab", "basket", "shop", "break",
]  # fmt: skip
ATTRIBUTES = ["title", "price", "in_stock", "url", "upc", "description", "quantity", "nope"]
NAMES = [*SITES, *CALLEES, *TYPE_NAMES, *VARIABLES, *ATTRIBUTES]
LITERALS = [
    "0", "1", "2", "10", "20", "100", "1_000", "99999999999999999999999", "0.5", "1.", ".5",
    "1e3", "1e999", '""', "''", '"Cables"', "'x'", '"{d}"', '"a {x} b"', '"{"', '"}}{{"',
    '"""long\nstring"""', "'''x'''", 'f"x{y}"', 'b"x"', 'r"\\d"', 'u"x"', '"\\N{bad}"',
    '"\\x"', "'\\'",
]  # fmt: skip
LAYOUT = ["\n", "\n    ", "\n        ", "\n\t", "    ", " ", "\t", "# note\n", "\\\n", "\r\n", ";"]
TOKENS = [*KEYWORDS, *OPERATORS, *NAMES, *LITERALS, *LAYOUT]

PREFIXES = [
    "",
    "use shop\n",
    "use shop\ndef main() -> str:\n    ",
    "use shop\n\ndef main(category: str) -> int:\n    items = list_products()\n    ",
    "use tracker\ndef main(n: int = 3) -> None:\n    ",
]


# ---- (a) token soup ----------------------------------------------------------------------------


def _join_tokens(parts: list[tuple[str, str]]) -> str:
    return "".join(tok + sep for tok, sep in parts)


token_soup = st.builds(
    lambda prefix, parts: prefix + _join_tokens(parts),
    st.sampled_from(PREFIXES),
    st.lists(
        st.tuples(st.sampled_from(TOKENS), st.sampled_from([" ", " ", "", "\n"])), max_size=60
    ),
)


@fuzz_settings("soup")
@given(token_soup)
def test_token_soup(text: str) -> None:
    check_compiles_or_reports(text)


# ---- (b) programs generated from the grammar ----------------------------------------------------

# Hand-rolled recursive generators with a size budget: much cheaper to draw than nested
# `st.recursive` strategies, which retry whenever a draw exceeds `max_leaves`.

_BINOPS = [
    "+", "-", "*", "/", "//", "%", "<", ">", "==", "!=", "<=", ">=", "in", "not in", "and", "or",
]  # fmt: skip
_DICT_KEYS = ['""', "''", '"Cables"', "'x'", '"{d}"', '"a {x} b"', '"{"', "1", "x"]


def _pick(draw: Draw, options: list[str]) -> str:
    return options[_index(draw, len(options))]


def _call(draw: Draw, sub: int) -> str:
    args = []
    for _ in range(draw(st.integers(0, 3))):
        kw = draw(st.sampled_from(["", "", *VARIABLES[:12], *ATTRIBUTES, "key", "reverse"]))
        args.append((f"{kw}=" if kw else "") + _expr(draw, sub))
    return f"{_pick(draw, CALLEES)}({', '.join(args)})"


def _dict(draw: Draw, sub: int) -> str:
    n = draw(st.integers(0, 3))
    return "{" + ", ".join(f"{_pick(draw, _DICT_KEYS)}: {_expr(draw, sub)}" for _ in range(n)) + "}"


def _listcomp(draw: Draw, sub: int) -> str:
    cond = f" if {_expr(draw, sub)}" if draw(st.booleans()) else ""
    var = _pick(draw, VARIABLES)
    return f"[{_expr(draw, sub)} for {var} in {_expr(draw, sub)}{cond}]"


_LEAVES: list[Callable[[Draw], str]] = [
    lambda d: _pick(d, VARIABLES),
    lambda d: _pick(d, LITERALS),
    lambda d: _pick(d, ["True", "False", "None", "p.price", "items"]),
]
# Each takes (draw, budget of the node) and spends at most about that many nodes.
_NODES: list[Callable[[Draw, int], str]] = [
    lambda d, b: f"{_expr(d, b // 2)} {_pick(d, _BINOPS)} {_expr(d, b // 2)}",
    lambda d, b: _pick(d, ["-", "+", "not "]) + _expr(d, b - 1),
    lambda d, b: f"({_expr(d, b - 1)})",
    lambda d, b: f"{_expr(d, b - 1)}.{_pick(d, ATTRIBUTES)}",
    lambda d, b: f"{_expr(d, b // 2)}[{_expr(d, b // 2)}]",
    lambda d, b: _call(d, b // 2),
    lambda d, b: _call(d, b // 2),
    lambda d, b: f"[{', '.join(_expr(d, b // 2) for _ in range(d(st.integers(0, 3))))}]",
    lambda d, b: _dict(d, b // 2),
    lambda d, b: _listcomp(d, b // 2),
    lambda d, b: f"{_expr(d, b // 2)} if {_expr(d, b // 2)} else {_expr(d, b // 2)}",
    lambda d, b: f"lambda {_pick(d, VARIABLES)}: {_expr(d, b - 1)}",
]


def _expr(draw: Draw, budget: int) -> str:
    """An expression of the DSL's grammar (not necessarily well typed) of about `budget` nodes."""
    n_choices = len(_LEAVES) + (len(_NODES) if budget > 1 else 0)
    i = draw(st.integers(0, n_choices - 1))
    return _LEAVES[i](draw) if i < len(_LEAVES) else _NODES[i - len(_LEAVES)](draw, budget)


def _simple_stmt(draw: Draw, budget: int) -> str:
    var = _pick(draw, VARIABLES)
    match draw(st.integers(0, 7)):
        case 0 | 1:
            return f"{var} = {_expr(draw, budget)}"
        case 2:
            return f"{var} {_pick(draw, ['+=', '-=', '*=', '/='])} {_expr(draw, budget)}"
        case 3:
            return _expr(draw, budget)
        case 4:
            return f"return {_expr(draw, budget)}" if draw(st.booleans()) else "return"
        case 5:
            msg = f", {_expr(draw, 2)}" if draw(st.booleans()) else ""
            return f"assert {_expr(draw, budget)}{msg}"
        case 6:
            return _pick(draw, ["pass", "break", "continue", "while x:", "import x", "use shop"])
        case _:
            target = _pick(draw, [f"{var}.{_pick(draw, ATTRIBUTES)}", f"{var}[0]", "f(x)"])
            return f"{target} = {_expr(draw, 2)}"


def _block(draw: Draw, indent: str, depth: int) -> list[str]:
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        lines += _stmt(draw, indent, depth)
    return lines


def _stmt(draw: Draw, indent: str, depth: int) -> list[str]:
    """One statement as lines; compound statements nest at most `depth` deep."""
    kind = draw(st.integers(0, 5)) if depth > 0 else 0
    inner = indent + "    "
    if kind == 4:
        head = f"{indent}for {_pick(draw, VARIABLES)} in {_expr(draw, 4)}:"
        return [head, *_block(draw, inner, depth - 1)]
    if kind == 5:
        lines = [f"{indent}if {_expr(draw, 4)}:", *_block(draw, inner, depth - 1)]
        for _ in range(draw(st.integers(0, 2))):
            lines += [f"{indent}elif {_expr(draw, 4)}:", *_block(draw, inner, depth - 1)]
        if draw(st.booleans()):
            lines += [f"{indent}else:", *_block(draw, inner, depth - 1)]
        return lines
    return [indent + _simple_stmt(draw, draw(st.integers(1, 8)))]


_TYPES = ["str", "int", "float", "bool", "any", "None", "Product", "Nope", "tab"]


def _type(draw: Draw) -> str:
    name = _pick(draw, _TYPES)
    if draw(st.integers(0, 3)) == 0:
        return f"{_pick(draw, ['list', 'dict', 'str'])}[{_type(draw)}]"
    return name


@st.composite
def programs(draw: Draw) -> str:
    """`use` lines and one or two functions, built from the grammar's productions."""
    parts = [f"use {_pick(draw, SITES)}" for _ in range(draw(st.integers(0, 2)))]
    for _ in range(draw(st.integers(1, 2))):
        params = []
        for _ in range(draw(st.integers(0, 3))):
            default = f" = {_expr(draw, 2)}" if draw(st.booleans()) else ""
            params.append(f"{_pick(draw, VARIABLES)}: {_type(draw)}{default}")
        ret = f" -> {_type(draw)}" if draw(st.integers(0, 4)) else ""
        name = _pick(draw, ["main", "main", "main", "helper", "len", "list_products"])
        parts.append(f"\ndef {name}({', '.join(params)}){ret}:")
        for _ in range(draw(st.integers(1, 6))):
            parts += _stmt(draw, "    ", depth=2)
        if draw(st.integers(0, 9)) == 0:
            parts.append(f"use {_pick(draw, SITES)}")
    return "\n".join(parts) + "\n"


@fuzz_settings("generated")
@given(programs())
def test_generated_programs(text: str) -> None:
    check_compiles_or_reports(text)


# ---- (c) mutated examples ----------------------------------------------------------------------

_TOKEN_RE = re.compile(r'\s+|[A-Za-z_]\w*|\d[\w.]*|"[^"\n]*"|\'[^\'\n]*\'|//|->|[=!<>+\-*/]=|.')
_NAME_RE = re.compile(r"\b[A-Za-z_]\w*\b")
_CALL_RE = re.compile(r"\b([A-Za-z_]\w*)\(")
_chars = st.one_of(
    st.sampled_from(list("()[]{}:.,=+-*/%<>!\"'#\\ \t\n_0aZ")),
    st.characters(codec="utf-8"),
)

Draw = Callable[[st.SearchStrategy], object]
Mutation = Callable[[Draw, str], str]


def _index(draw: Draw, n: int) -> int:
    return draw(st.integers(0, max(n - 1, 0)))


def _on_lines(fn: Callable[[Draw, list[str]], None]) -> Mutation:
    def mutate(draw: Draw, text: str) -> str:
        lines = text.split("\n")
        fn(draw, lines)
        return "\n".join(lines)

    mutate.__name__ = fn.__name__
    return mutate


@_on_lines
def delete_line(draw: Draw, lines: list[str]) -> None:
    if lines:
        del lines[_index(draw, len(lines))]


@_on_lines
def duplicate_line(draw: Draw, lines: list[str]) -> None:
    if lines:
        i = _index(draw, len(lines))
        lines.insert(i, lines[i])


@_on_lines
def swap_lines(draw: Draw, lines: list[str]) -> None:
    i, j = _index(draw, len(lines)), _index(draw, len(lines))
    lines[i], lines[j] = lines[j], lines[i]


@_on_lines
def move_line(draw: Draw, lines: list[str]) -> None:
    line = lines.pop(_index(draw, len(lines)))
    lines.insert(_index(draw, len(lines) + 1), line)


@_on_lines
def reindent_line(draw: Draw, lines: list[str]) -> None:
    i = _index(draw, len(lines))
    indent = draw(st.sampled_from(["", " ", "  ", "    ", "     ", "        ", "\t", "\t    "]))
    lines[i] = indent + lines[i].lstrip(" \t")


def delete_char(draw: Draw, text: str) -> str:
    i = _index(draw, len(text))
    return text[:i] + text[i + 1 :]


def insert_char(draw: Draw, text: str) -> str:
    i = _index(draw, len(text) + 1)
    return text[:i] + draw(_chars) + text[i:]


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


def delete_token(draw: Draw, text: str) -> str:
    toks = _tokens(text)
    if toks:
        del toks[_index(draw, len(toks))]
    return "".join(toks)


def insert_token(draw: Draw, text: str) -> str:
    toks = _tokens(text)
    toks.insert(_index(draw, len(toks) + 1), draw(st.sampled_from(TOKENS)))
    return "".join(toks)


def duplicate_token(draw: Draw, text: str) -> str:
    toks = _tokens(text)
    if toks:
        i = _index(draw, len(toks))
        toks.insert(i, toks[i])
    return "".join(toks)


def replace_name(draw: Draw, text: str) -> str:
    spots = list(_NAME_RE.finditer(text))
    if not spots:
        return text
    m = spots[_index(draw, len(spots))]
    new = draw(st.sampled_from(sorted({*NAMES, *KEYWORDS, *(s.group() for s in spots)})))
    return text[: m.start()] + new + text[m.end() :]


def swap_call_names(draw: Draw, text: str) -> str:
    calls = list(_CALL_RE.finditer(text))
    if len(calls) < 2:
        return text
    a, b = _index(draw, len(calls)), _index(draw, len(calls))
    if a == b:
        return text
    a, b = min(a, b), max(a, b)
    ma, mb = calls[a], calls[b]
    return (
        text[: ma.start(1)]
        + mb.group(1)
        + text[ma.end(1) : mb.start(1)]
        + ma.group(1)
        + text[mb.end(1) :]
    )


def truncate(draw: Draw, text: str) -> str:
    return text[: _index(draw, len(text) + 1)]


MUTATIONS: list[Mutation] = [
    delete_line, duplicate_line, swap_lines, move_line, reindent_line, delete_char, insert_char,
    delete_token, insert_token, duplicate_token, replace_name, swap_call_names, truncate,
]  # fmt: skip


def apply_mutations(draw: Draw, text: str, mutations: list[Mutation], max_count: int) -> str:
    for _ in range(draw(st.integers(1, max_count))):
        text = draw(st.sampled_from(mutations))(draw, text)
    return text


@st.composite
def mutated_examples(draw: Draw) -> str:
    text = SEED_TEXTS[_index(draw, len(SEED_TEXTS))]
    return apply_mutations(draw, text, MUTATIONS, 4)


@fuzz_settings("mutated")
@given(mutated_examples())
def test_mutated_examples(text: str) -> None:
    check_compiles_or_reports(text)


# ---- (d) unicode text and deep nesting -----------------------------------------------------------


@fuzz_settings("unicode")
@given(
    st.one_of(
        st.text(max_size=200),
        st.builds("{}{}".format, st.sampled_from(PREFIXES), st.text(max_size=100)),
    )
)
def test_unicode_text(text: str) -> None:
    check_compiles_or_reports(text)


_NESTINGS = [
    ("(", ")"), ("[", "]"), ("-", ""), ("not ", ""), ("+", ""), ("[x for x in ", "]"),
    ("1 + ", ""), ("x if True else ", ""), ("lambda q: ", ""), ("f(", ")"), ("{'k': ", "}"),
    ("", "[0]"), ("", " * 2"), ("", " < 2"),
]  # fmt: skip


_STATEMENTS = ["x = {}", "return {}", "if {}:\n        pass", "for v in {}:\n        pass"]


def check_compact(text: str, label: str) -> None:
    """`check_compiles_or_reports`, but a RecursionError fails with a one-line summary: a
    thousand-frame traceback helps nobody (and takes pytest seconds to format)."""
    failure = None
    try:
        check_compiles_or_reports(text)
    except Exception as exc:
        if not _is_recursion_error(exc):
            raise
        failure = f"{label}: {_summary(exc)}"
    if failure:  # outside `except`, so that pytest does not print the chained traceback
        pytest.fail(failure)


# Deterministic rather than Hypothesis tests: whether a RecursionError is raised depends on the
# stack depth the input is run at, which Hypothesis (rightly) reports as a flaky failure.
@pytest.mark.parametrize("depth", [20, 100, 1000])
@pytest.mark.parametrize(
    ("open_", "close"), _NESTINGS, ids=[(o + "1" + c).strip() for o, c in _NESTINGS]
)
def test_deep_nesting(open_: str, close: str, depth: int) -> None:
    for stmt in _STATEMENTS:
        expr = open_ * depth + "1" + close * depth
        text = "use shop\n\ndef main(x: int) -> int:\n    " + stmt.format(expr) + "\n    return 1\n"
        check_compact(text, repr(stmt.format(f"<depth-{depth} nesting>")))


_HEADER = "use shop\n\ndef main(x: int) -> int:\n"
_LONG_SHAPES: dict[str, Callable[[int], str]] = {
    "sum": lambda n: _HEADER + "    y = " + " + ".join(["1"] * n) + "\n    return y\n",
    "and-chain": lambda n: _HEADER + "    b = " + " and ".join(["x > 1"] * n) + "\n    return 1\n",
    "compare-chain": lambda n: _HEADER + "    b = " + " < ".join(["x"] * n) + "\n    return 1\n",
    "concat": lambda n: _HEADER + "    s = " + " + ".join(['"a"'] * n) + "\n    return len(s)\n",
    "list": lambda n: _HEADER + f"    xs = [{', '.join(['x'] * n)}]\n    return len(xs)\n",
    "statements": lambda n: (
        _HEADER + "".join(f"    x = x + {i}\n" for i in range(n)) + "    return x\n"
    ),
    "elif-chain": lambda n: (
        _HEADER
        + "    if x == 0:\n        x = 1\n"
        + "".join(f"    elif x == {i}:\n        x = {i}\n" for i in range(1, n))
        + "    return x\n"
    ),
    "early-returns": lambda n: (
        _HEADER
        + "".join(f"    if x == {i}:\n        return {i}\n" for i in range(n))
        + "    return x\n"
    ),
    "call-chain": lambda n: (
        "use shop\n\n"
        + "".join(f"def f{i}(x: int) -> int:\n    return f{i + 1}(x)\n\n" for i in range(n))
        + f"def f{n}(x: int) -> int:\n    return x\n\ndef main(x: int) -> int:\n    return f0(x)\n"
    ),
}


@pytest.mark.parametrize("size", [10, 300])
@pytest.mark.parametrize("shape", list(_LONG_SHAPES))
def test_long_programs(shape: str, size: int) -> None:
    """Long but flat programs: sequences that the compiler may turn into deep recursion."""
    check_compact(_LONG_SHAPES[shape](size), f"{shape} of {size}")


def _is_recursion_error(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, RecursionError):
            return True
        exc = getattr(exc, "orig_exc", None) or exc.__cause__ or exc.__context__
    return False


def _summary(exc: BaseException) -> str:
    """The exception's type and the innermost frames of its recursion, one line each."""
    frames = traceback.extract_tb(exc.__traceback__)
    inner = exc
    while getattr(inner, "orig_exc", None) is not None:  # lark's VisitError wraps the real error
        inner = inner.orig_exc  # type: ignore[attr-defined]
        frames = traceback.extract_tb(inner.__traceback__)
    seen: dict[tuple[str, str], int] = {}
    for f in frames:
        seen[(Path(f.filename).name, f.name)] = f.lineno or 0
    where = ", ".join(f"{file}:{line} {name}" for (file, name), line in list(seen.items())[-6:])
    outer = type(exc).__name__ + (f" wrapping {type(inner).__name__}" if inner is not exc else "")
    return f"{outer}; frames (outermost first) ... {where}"


# ---- (e) mutated textual IR ---------------------------------------------------------------------


@functools.cache
def example_ir_texts() -> list[str]:
    texts = []
    for source in SEED_TEXTS:
        try:
            texts.append(print_ir(agentjit.compile_text(source, "<example>").module))
        except CompilerError:
            continue
    return texts or [
        '"builtin.module"() ({\n  "func.func"() ({\n  ^bb0(%tab: !tab):\n'
        '    "func.return"(%tab) : (!tab) -> ()\n  }) {arg_names = [], defaults = {}, '
        'result_types = [!tab], sym_name = "main"} : () -> ()\n}) {uses = []} : () -> ()\n'
    ]


_IR_TOKENS = [
    "%0", "%tab", "%tab_1", "!tab", "!res<shop.basket>", "!Product", "str", "int", "list<str>",
    "(", ")", "{", "}", "[", "]", ",", ":", "=", "->", "^bb0", '"dsl.const"', '"ctl.yield"',
    '"tool.call"', "true", "null", "nan", "-1", "1e400", '"', "\\", "loc(\"f\":0:0 to 0:0)",
]  # fmt: skip


def replace_ir_token(draw: Draw, text: str) -> str:
    spots = list(re.finditer(r'%\w+|![\w<>.]+|"[^"]*"|\b\w+\b|\S', text))
    if not spots:
        return text
    m = spots[_index(draw, len(spots))]
    new = draw(st.sampled_from([*_IR_TOKENS, *(s.group() for s in spots[:200])]))
    return text[: m.start()] + new + text[m.end() :]


def delete_span(draw: Draw, text: str) -> str:
    i = _index(draw, len(text) + 1)
    return text[:i] + text[i + draw(st.integers(1, 40)) :]


def duplicate_char(draw: Draw, text: str) -> str:
    i = _index(draw, len(text))
    return text[: i + 1] + text[i:]


IR_MUTATIONS: list[Mutation] = [
    delete_char, duplicate_char, insert_char, delete_span, delete_line, duplicate_line,
    swap_lines, move_line, replace_ir_token, truncate,
]  # fmt: skip


@st.composite
def mutated_ir(draw: Draw) -> str:
    texts = example_ir_texts()
    return apply_mutations(draw, texts[_index(draw, len(texts))], IR_MUTATIONS, 3)


@fuzz_settings("ir")
@given(mutated_ir())
def test_mutated_ir(text: str) -> None:
    check_ir_parses_or_reports(text)


# ---- sanity: the seeds themselves are valid ------------------------------------------------------


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_seeds_satisfy_property(path: Path) -> None:
    check_compiles_or_reports(path.read_text(encoding="utf-8"))
