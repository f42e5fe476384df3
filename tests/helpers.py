"""Small builders shared by the unit tests (no browser, no sites beyond the shipped ones)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

from agentjit import compile_text
from agentjit.ir import (
    BOOL,
    FLOAT,
    INT,
    STR,
    DictType,
    ListType,
    ModuleOp,
    RecordType,
    ToolCallOp,
    Type,
)
from agentjit.ir.interpreter import AssertionFailed, Interpreter


def compile_dsl(source: str, file: str = "<test>") -> ModuleOp:
    """Compile dedented DSL source against the shipped sites and return the verified module."""
    return compile_text(textwrap.dedent(source).lstrip("\n"), file).module


# ---- a fake site for differential tests (the fake is the point: deterministic tool results) --


def synthetic_value(t: Type, seed: int) -> Any:
    """A deterministic value of IR type `t`, varied by `seed`."""
    if t == STR:
        return f"s{seed % 7}"
    if t == INT:
        return seed % 11
    if t == FLOAT:
        return (seed % 13) + 0.25
    if t == BOOL:
        return seed % 3 != 0
    if isinstance(t, ListType):
        return [synthetic_value(t.elem, seed * 31 + i) for i in range(seed % 4 + 2)]
    if isinstance(t, DictType):
        return {f"k{i}": synthetic_value(t.value, seed + i) for i in range(2)}
    if isinstance(t, RecordType):
        return {name: synthetic_value(ft, seed * 17 + i) for i, (name, ft) in enumerate(t.fields)}
    return None


def fake_tool_handler(module: ModuleOp) -> Callable[[str, dict[str, Any]], Any]:
    """Tool results synthesised from each tool's declared result type and its arguments."""
    results: dict[str, Type] = {}
    for op in module.walk():
        if isinstance(op, ToolCallOp):
            results[op.tool] = op.output.type

    def handle(name: str, kwargs: dict[str, Any]) -> Any:
        seed = sum(ord(c) for c in name + repr(sorted(kwargs.items())))
        return synthetic_value(results[name], seed)

    return handle


def run_outcome(module: ModuleOp, args: dict[str, Any] | None = None) -> tuple[Any, list]:
    """(result or the failure, tool-call trace) of running `main` on the fake site."""
    interp = Interpreter(fake_tool_handler(module))
    try:
        result: Any = interp.run(module, "main", _default_args(module, args))
    except (AssertionFailed, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        result = ("raised", type(exc).__name__)
    return result, interp.trace


def _default_args(module: ModuleOp, args: dict[str, Any] | None) -> dict[str, Any]:
    func = module.function("main")
    assert func is not None
    out: dict[str, Any] = {}
    for i, name in enumerate(func.arg_names):
        out[name] = synthetic_value(func.body.block.args[i].type, i + 1)
    out.update(func.defaults or {})
    out.update(args or {})
    return out
