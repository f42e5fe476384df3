"""`canonicalize`: fold pure ops on constants, inline `ctl.if` on a constant condition, and
drop constants nobody reads.

Legal on any verified module. Preserves behaviour exactly: only pure ops whose operands are all
constants are evaluated, with the same Python semantics the reference interpreter uses; an
evaluation that raises (division by zero, a bad index) is left for run time, where it belongs;
folds whose result would be large (`range(10**9)`, `"x" * 10**9`) are skipped. Tool calls, LLM
calls and asserts are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentjit.ir import (
    BUILTINS,
    BinaryOp,
    BuiltinCallOp,
    CastOp,
    ConstantOp,
    DictOp,
    GetAttrOp,
    GetItemOp,
    IfOp,
    ListOp,
    ModuleOp,
    Operation,
    UnaryOp,
    Value,
    YieldOp,
    is_assignable,
    type_of_constant,
)
from agentjit.passes.base import Pass, PassContext

MAX_FOLDED_SIZE = 10_000
MAX_ROUNDS = 50


class _NotFoldable(Exception):
    pass


def _const_value(v: Value) -> Any:
    op = getattr(v, "op", None)
    if isinstance(op, ConstantOp):
        return op.value
    raise _NotFoldable


def _check_size(op: Operation, args: list[Any]) -> None:
    """Refuse folds that would build huge values before building them."""
    if (
        isinstance(op, BuiltinCallOp)
        and op.callee == "range"
        and len(range(*args)) > MAX_FOLDED_SIZE
    ):
        raise _NotFoldable
    if isinstance(op, BinaryOp) and op.symbol == "*":
        sized = [a for a in args if isinstance(a, str | list)]
        counts = [a for a in args if isinstance(a, int) and not isinstance(a, bool)]
        if sized and counts and len(sized[0]) * max(counts[0], 0) > MAX_FOLDED_SIZE:
            raise _NotFoldable


def _evaluate(op: Operation) -> Any:
    args = [_const_value(v) for v in op.operands]
    _check_size(op, args)
    match op:
        case BinaryOp():
            return type(op).evaluate(*args)
        case UnaryOp():
            return type(op).evaluate(*args)
        case CastOp():
            return args[0]
        case ListOp():
            return list(args)
        case DictOp():
            return dict(zip(op.keys, args, strict=True))
        case GetItemOp():
            return args[0][args[1]]
        case GetAttrOp() if isinstance(args[0], dict):
            return args[0][op.field]
        case BuiltinCallOp() if not op.regions:
            n_pos = len(args) - len(op.kwargs)
            kwargs = dict(zip(op.kwargs, args[n_pos:], strict=True))
            return BUILTINS[op.callee].impl(*args[:n_pos], **kwargs)
    raise _NotFoldable


def _representable(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_FOLDED_SIZE
    if value is None or isinstance(value, bool | int | float):
        return True
    if isinstance(value, list):
        return len(value) <= MAX_FOLDED_SIZE and all(_representable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _representable(v) for k, v in value.items())
    return False


def fold(op: Operation) -> bool:
    """Replace `op` by a constant when all its operands are constants; True if it did."""
    if isinstance(op, ConstantOp) or len(op.results) != 1:
        return False
    if not op.operands and not isinstance(op, ListOp | DictOp | BuiltinCallOp):
        return False
    try:
        value = _evaluate(op)
    except (_NotFoldable, ArithmeticError, LookupError, ValueError, TypeError, OverflowError):
        return False
    out = op.results[0]
    if not _representable(value) or not is_assignable(type_of_constant(value), out.type):
        return False
    const = ConstantOp([], [out.type], {"value": value}, loc=op.loc, result_names=[out.name_hint])
    op.parent.insert_before(const, op)
    out.replace_all_uses_with(const.out)
    op.erase()
    return True


def inline_constant_if(op: IfOp) -> bool:
    """Replace a `ctl.if` whose condition is a constant by the ops of the branch it takes."""
    try:
        cond = _const_value(op.cond)
    except _NotFoldable:
        return False
    block = op.regions[0 if cond else 1].block
    for arg, token in zip(block.args, op.tokens, strict=True):
        arg.replace_all_uses_with(token)
    terminator = block.terminator
    assert isinstance(terminator, YieldOp)
    for inner in list(block.ops[:-1]):
        block.remove(inner)
        op.parent.insert_before(inner, op)
    for res, value in zip(op.results, terminator.values, strict=True):
        res.replace_all_uses_with(value)
    terminator.erase()
    op.erase()
    return True


def _attached(op: Operation, module: ModuleOp) -> bool:
    while op is not module:
        block = op.parent
        if block is None or block.parent_op is None:
            return False
        op = block.parent_op
    return True


def _remove_dead_constants(module: ModuleOp) -> bool:
    dead = [op for op in module.walk() if isinstance(op, ConstantOp) and not op.out.has_uses]
    for op in dead:
        op.erase()
    return bool(dead)


@dataclass(frozen=True)
class CanonicalizePass(Pass):
    """Fold constant pure ops, inline constant-condition ifs, remove unused constants.

    Legal on any verified module; preserves the program's results and every effect (it never
    touches tool calls, LLM calls or asserts). Runs to a fixpoint.
    """

    name = "canonicalize"

    def run(self, module: ModuleOp, ctx: PassContext) -> None:
        for _ in range(MAX_ROUNDS):
            changed = False
            for op in list(module.walk()):
                if not _attached(op, module):
                    continue  # erased or inlined away earlier in this round
                if isinstance(op, IfOp):
                    changed |= inline_constant_if(op)
                else:
                    changed |= fold(op)
            changed |= _remove_dead_constants(module)
            ctx.changed |= changed
            if not changed:
                return
