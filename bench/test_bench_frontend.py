"""Benchmarks of the frontend and the textual IR on a generated ~1,000-op program.

Run with `python -m pytest bench/ --benchmark-enable` (see bench/README.md). Without
`--benchmark-enable` (pyproject's addopts disable benchmarking) each benchmark runs once, as a
plain correctness test. Only correctness is asserted here, never time.
"""

from __future__ import annotations

import pytest

import agentjit
from agentjit.ir import ModuleOp, Operation, parse_ir, print_ir, verify
from agentjit.passes import PassContext
from agentjit.passes.canonicalize import CanonicalizePass

GROUPS = 25
"""Statement groups in the generated program; about 41 IR ops each."""

MIN_OPS, MAX_OPS = 900, 1300


def generate_program(groups: int = GROUPS) -> str:
    """A `use shop` program: per group a navigation, a tool read, a filtered comprehension,
    arithmetic (some of it constant, for canonicalize), and an if/else with a tool write, a
    `min(..., key=lambda ...)` and a loop-carried variable."""
    lines = ["use shop", "", "def main(budget: float = 100.0) -> float:", "    total = 0.0"]
    for i in range(groups):
        lines += [
            f'    open_category(name="Category {i}")',
            f"    items_{i} = list_products()",
            f"    cheap_{i} = [p.title for p in items_{i} if p.price < {i + 5}]",
            f"    n_{i} = len(cheap_{i}) * 2 + {i}",
            f"    limit_{i} = 10 * {i} + 5 - 3",
            f"    if n_{i} > limit_{i} and budget > 0:",
            f"        add_to_basket(title=cheap_{i}[0])",
            f"        total = total + min(items_{i}, key=lambda p: p.price).price",
            "    else:",
            f"        total = total - {i}.5",
        ]
    lines.append("    return total")
    return "\n".join(lines) + "\n"


def count_ops(op: Operation) -> int:
    return sum(1 for _ in op.walk())


PROGRAM = generate_program()


@pytest.fixture(scope="module")
def module() -> ModuleOp:
    return agentjit.compile_text(PROGRAM, "<bench>").module


@pytest.fixture(scope="module")
def ir_text(module: ModuleOp) -> str:
    return print_ir(module)


def test_program_size(module: ModuleOp) -> None:
    assert MIN_OPS <= count_ops(module) <= MAX_OPS, count_ops(module)


def test_compile_text(benchmark) -> None:
    """DSL text -> Lark parse -> AST -> lowering -> verify."""
    compiled = benchmark(agentjit.compile_text, PROGRAM, "<bench>")
    assert MIN_OPS <= count_ops(compiled.module) <= MAX_OPS
    assert not compiled.warnings


def test_print_ir(benchmark, module: ModuleOp, ir_text: str) -> None:
    """Module -> textual IR."""
    assert benchmark(print_ir, module) == ir_text


def test_parse_ir(benchmark, ir_text: str) -> None:
    """Textual IR -> module (Lark parse + rebuilding the ops), without verification."""
    parsed = benchmark(parse_ir, ir_text, "<bench-ir>")
    assert print_ir(parsed) == ir_text


def test_ir_round_trip(benchmark, module: ModuleOp, ir_text: str) -> None:
    """print -> parse: the textual round trip as a whole."""
    parsed = benchmark(lambda: parse_ir(print_ir(module), "<bench-ir>"))
    verify(parsed)
    assert print_ir(parsed) == ir_text


def test_verify(benchmark, module: ModuleOp) -> None:
    """The verifier on the whole module."""
    benchmark(verify, module)


def test_canonicalize(benchmark, ir_text: str) -> None:
    """The canonicalize pass to its fixpoint, on a fresh copy of the module each round (the
    pass rewrites in place; copying by parsing the IR text is not timed)."""

    def fresh() -> tuple[tuple[ModuleOp, PassContext], dict]:
        return (parse_ir(ir_text, "<bench-ir>"), PassContext()), {}

    def run(mod: ModuleOp, ctx: PassContext) -> ModuleOp:
        CanonicalizePass().run(mod, ctx)
        return mod

    result = benchmark.pedantic(run, setup=fresh, rounds=15, iterations=1, warmup_rounds=1)
    verify(result)
    assert count_ops(result) < count_ops(parse_ir(ir_text)), "canonicalize folded nothing"
    text = print_ir(result)
    assert print_ir(parse_ir(text)) == text
