"""The abstract domain of `check-contracts`: per-tab page states, value keys and argument origins.

A tab's abstract state maps each `site.field` to the set of values the field may hold there,
each with the calls that could have set it (its witnesses, for error messages). UNKNOWN is a
value like any other ("no tool has established this"). Joining two states unions the sets; the
lattice is finite, so loops reach a fixpoint.

`value_key` numbers values structurally (`p.title` read twice is one key), which is how a
`Text` field set from one argument is compared with another. `origins` says which tools'
outputs flow into a value, for `requires_called`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass

from agentjit.ir import (
    BlockArgument,
    BuiltinCallOp,
    CastOp,
    ConstantOp,
    ForOp,
    GetAttrOp,
    GetItemOp,
    IfOp,
    ListOp,
    Location,
    Operation,
    OpResult,
    ToolCallOp,
    Value,
)
from agentjit.ir.ops.structure import yielded_values
from agentjit.tools.state import UNKNOWN


@dataclass(frozen=True)
class Witness:
    """Where a field value came from: a tool call (name and location) or the tab's start."""

    tool: str
    loc: Location | None

    def __str__(self) -> str:
        if self.loc is None and self.tool == "observed":
            return "the page as observed when the previous plan stopped"
        if self.loc is None:
            return "the state of a fresh tab"
        return f"{self.tool} at line {self.loc.line}"


FieldValue = dict[Hashable, frozenset[Witness]]
TabState = dict[str, FieldValue]
"""`site.field` -> value -> witnesses."""


def join(a: TabState, b: TabState) -> TabState:
    out: TabState = {}
    for name in a.keys() | b.keys():
        merged: FieldValue = dict(a.get(name, {}))
        for value, witnesses in b.get(name, {}).items():
            merged[value] = merged.get(value, frozenset()) | witnesses
        out[name] = merged
    return out


def single(value: Hashable, witness: Witness) -> FieldValue:
    return {value: frozenset([witness])}


# ---- value numbering --------------------------------------------------------------------------


def value_key(v: Value) -> Hashable:
    """A structural key: equal keys mean equal values at run time (within one iteration)."""
    if isinstance(v, OpResult):
        op = v.op
        if isinstance(op, ConstantOp):
            return ("const", repr(op.value))
        if isinstance(op, CastOp):
            return value_key(op.arg)
        if isinstance(op, GetAttrOp):
            return ("attr", value_key(op.obj), op.field)
        if isinstance(op, GetItemOp):
            return ("item", value_key(op.container), value_key(op.index))
    return ("value", v)


def key_values(key: Hashable) -> Iterator[Value]:
    """The SSA values a key mentions."""
    if isinstance(key, Value):
        yield key
    elif isinstance(key, tuple):
        for part in key:
            yield from key_values(part)


def defined_inside(v: Value, op: Operation) -> bool:
    """Whether `v` is defined in a region of `op` (at any depth)."""
    block = v.op.parent if isinstance(v, OpResult) else v.block
    while block is not None:
        owner = block.parent_op
        if owner is op:
            return True
        block = owner.parent if owner is not None else None
    return False


def forget_iteration_values(state: TabState, loop: Operation) -> TabState:
    """`state` with every value that names something of one loop iteration made UNKNOWN: the
    same key on the next iteration names a different item."""
    out: TabState = {}
    for name, values in state.items():
        kept: FieldValue = {}
        for value, witnesses in values.items():
            stale = any(defined_inside(v, loop) for v in key_values(value))
            target = UNKNOWN if stale else value
            kept[target] = kept.get(target, frozenset()) | witnesses
        out[name] = kept
    return out


def describe_value(value: Hashable) -> str:
    """A value of a field, for messages."""
    if value is UNKNOWN:
        return "unknown (no tool has established it on this path)"
    if isinstance(value, tuple) and value and value[0] in ("const", "attr", "item", "value"):
        return describe_key(value)
    return repr(value)


def describe_key(key: Hashable) -> str:
    match key:
        case ("const", text):
            return str(text)
        case ("attr", inner, field):
            return f"{describe_key(inner)}.{field}"
        case ("item", inner, index):
            return f"{describe_key(inner)}[{describe_key(index)}]"
        case ("value", v) if isinstance(v, Value):
            return f"the {v.name_hint}" if v.name_hint else "a computed value"
    return "a value"


# ---- origins ----------------------------------------------------------------------------------

SELECTING_BUILTINS = frozenset({"min", "max", "sorted"})
"""Builtins whose result is (made of) items of their first argument, unchanged."""


def origins(v: Value, seen: set[Value] | None = None) -> set[str]:
    """Where `v`'s value may come from: tool names (their outputs, passed on unchanged),
    "$param" (a function parameter), "literal", or "computed" (anything that makes a new value).
    A requirement that an argument come from a tool holds only if every origin is that tool."""
    seen = set() if seen is None else seen
    if v in seen:
        return set()
    seen.add(v)
    if isinstance(v, BlockArgument):
        return _block_arg_origins(v, seen)
    op = v.op
    if isinstance(op, ToolCallOp):
        return {op.tool.rsplit(".", 1)[-1]} if v is op.output else {"computed"}
    if isinstance(op, IfOp | ForOp):
        return _yield_origins(op, v, seen)
    if isinstance(op, ConstantOp):
        return {"literal"}
    if isinstance(op, GetAttrOp | GetItemOp | CastOp):
        return origins(op.operands[0], seen)
    if isinstance(op, ListOp):
        return set().union(*(origins(x, seen) for x in op.operands)) if op.operands else set()
    if isinstance(op, BuiltinCallOp) and op.callee in SELECTING_BUILTINS and op.positional:
        return set().union(*(origins(x, seen) for x in op.positional))
    return {"computed"}


def _block_arg_origins(v: BlockArgument, seen: set[Value]) -> set[str]:
    owner = v.block.parent_op
    if owner is None or owner.name == "func.func":
        return {"$param"}
    if isinstance(owner, ForOp):
        if v.index == 0:
            return origins(owner.iterable, seen)
        init = owner.init[v.index - 1]
        return origins(init, seen) | origins(yielded_values(owner.body.block)[v.index - 1], seen)
    if isinstance(owner, BuiltinCallOp):
        return origins(owner.positional[0], seen) if owner.positional else set()
    return set()


def _yield_origins(op: IfOp | ForOp, v: OpResult, seen: set[Value]) -> set[str]:
    out: set[str] = set()
    for region in range(len(op.regions)):
        values = yielded_values(op.regions[region].block)
        if isinstance(op, ForOp) and op.collected is v:
            out |= origins(values[len(op.init)], seen)
        elif v.index < len(values):
            out |= origins(values[v.index], seen)
    return out
