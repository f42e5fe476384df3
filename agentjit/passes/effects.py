"""Effect classification shared by `dce`, `cse` and `licm`: what may be removed, merged or moved.

Effects are dataflow in this IR, so most questions are local to an op:

- A `Pure` op only computes its results (an `llm.call` is `Pure` too; it is *deterministic* only
  at temperature 0). A `HasSideEffects` op (`dsl.assert`) is never touched.
- A *read-only* `tool.call` neither navigates nor writes and is idempotent: it threads the tab
  token only to be ordered after whatever changed the page, and yields the token unchanged in
  meaning. Dropping it, or reading the same unchanged page at another moment, is unobservable.
- A structured op (`ctl.for`, `ctl.if`) is *effect-free* when everything nested in it is pure,
  a read-only call or effect-free control flow; each of its token results then passes one token
  operand through (`passed_through`), which is what removing it rewires.

`never_fails` answers a different question for `licm`: whether evaluating an op can raise, which
decides whether it may be computed on a path (zero loop iterations) that never computed it.
"""

from __future__ import annotations

from agentjit.ir import (
    ANY,
    STR,
    BinaryOp,
    BuiltinCallOp,
    CastOp,
    ConstantOp,
    DictOp,
    DictType,
    ForOp,
    GetAttrOp,
    HasSideEffects,
    IfOp,
    ListOp,
    ListType,
    Operation,
    OpResult,
    Pure,
    RecordType,
    TabToken,
    Terminator,
    ToolCallOp,
    UnaryOp,
    UndefOp,
    Value,
    YieldOp,
)
from agentjit.ir.types import NUMERIC


def touches_tab(op: Operation) -> bool:
    """A `tool.call` that consumes a tab token (it reads or drives a page)."""
    return isinstance(op, ToolCallOp) and any(isinstance(v.type, TabToken) for v in op.operands)


def is_read_only_call(op: Operation) -> bool:
    """A `tool.call` that neither navigates nor writes and may be repeated (a page read)."""
    if not isinstance(op, ToolCallOp):
        return False
    effects = op.declared_effects
    return not effects.navigates and not effects.writes and effects.idempotent


def tab_token_pairs(op: ToolCallOp) -> list[tuple[Value, Value]]:
    """(token operand, token result) pairs of a tool call; each result is the operand's next
    state."""
    return list(zip(op.token_operands, op.token_results, strict=True))


def is_mergeable(op: Operation) -> bool:
    """Two such ops with equal operands and attributes compute equal results (CSE may merge)."""
    return (
        op.has_trait(Pure)
        and not op.has_trait(HasSideEffects)
        and not op.regions
        and op.is_deterministic()
    )


def _locally_effect_free(op: Operation) -> bool:
    if op.has_trait(HasSideEffects):
        return False
    return (
        op.has_trait(Pure)
        or op.has_trait(Terminator)
        or is_read_only_call(op)
        or isinstance(op, ForOp | IfOp)
    )


def is_effect_free(op: Operation) -> bool:
    """`op` and every op nested in it only compute values and read pages."""
    return all(_locally_effect_free(nested) for nested in op.walk())


def token_origin(token: Value) -> Value:
    """Follow a token back through effect-free ops that pass it on to where it came from."""
    while isinstance(token, OpResult):
        previous = passed_through(token.op, token)
        if previous is None:
            break
        token = previous
    return token


def passed_through(op: Operation, token: OpResult) -> Value | None:
    """The token operand of effect-free `op` that its token result `token` merely passes on."""
    if not token.type.is_token:
        return None
    if is_read_only_call(op):
        assert isinstance(op, ToolCallOp)
        return next((i for i, r in tab_token_pairs(op) if r is token), None)
    if isinstance(op, ForOp) and is_effect_free(op):
        return _for_passed_through(op, token.index)
    if isinstance(op, IfOp) and is_effect_free(op):
        return _if_passed_through(op, token.index)
    return None


def _for_passed_through(op: ForOp, index: int) -> Value | None:
    if index >= len(op.init):
        return None
    block = op.body.block
    yielded = block.terminator
    if not isinstance(yielded, YieldOp):
        return None
    through = token_origin(yielded.operands[index]) is block.args[index + 1]
    return op.init[index] if through else None


def _if_passed_through(op: IfOp, index: int) -> Value | None:
    positions = set()
    for region in op.regions:
        block = region.block
        yielded = block.terminator
        if not isinstance(yielded, YieldOp):
            return None
        origin = token_origin(yielded.operands[index])
        if origin not in block.args:
            return None
        positions.add(block.args.index(origin))
    return op.tokens[positions.pop()] if len(positions) == 1 else None


def is_removable(op: Operation) -> bool:
    """Whether `op`, once its data results are unused, may be erased after rewiring its token
    results to the token operands they pass through (see `remove`)."""
    if op.has_trait(Terminator) or not is_effect_free(op):
        return False
    tokens = [r for r in op.results if r.type.is_token]
    return all(passed_through(op, r) is not None for r in tokens)


def remove(op: Operation) -> None:
    """Erase a removable op whose data results are unused; readers of its tokens read the
    tokens it was given instead."""
    for result in op.results:
        if result.type.is_token:
            source = passed_through(op, result)
            assert source is not None
            result.replace_all_uses_with(source)
    op.erase()


# ---- failure (for licm) ---------------------------------------------------------------------

_TOTAL_BUILTINS = frozenset(
    {"len", "str", "bool", "lower", "upper", "strip", "startswith", "endswith", "keys", "values"}
    | {"any", "all", "join"}
)
"""Builtins that cannot raise on any well-typed argument (none of the operands typed `any`)."""

_ARITHMETIC = frozenset({"+", "-", "*"})
_ORDERING = frozenset({"<", "<=", ">", ">="})


def _binary_never_fails(op: BinaryOp) -> bool:
    lhs, rhs = op.lhs.type, op.rhs.type
    if op.symbol in ("==", "!=", "and", "or"):
        return True
    if lhs in NUMERIC and rhs in NUMERIC and op.symbol in _ARITHMETIC | _ORDERING:
        return True
    if op.symbol == "+":
        return lhs == rhs == STR or (isinstance(lhs, ListType) and isinstance(rhs, ListType))
    if op.symbol in _ORDERING:
        return lhs == rhs == STR
    if op.symbol in ("in", "not in"):
        keyed_by_str = lhs == STR and (rhs == STR or isinstance(rhs, DictType))
        return isinstance(rhs, ListType) or keyed_by_str
    # Division by zero raises; `str * int` cannot, but may build a huge value nobody asked for.
    return False


def _builtin_never_fails(op: BuiltinCallOp) -> bool:
    if op.regions or any(v.type == ANY for v in op.operands):
        return False
    if op.callee == "abs":
        return op.operands[0].type in NUMERIC
    if op.callee == "sum":
        arg = op.operands[0].type
        return isinstance(arg, ListType) and arg.elem in NUMERIC
    return op.callee in _TOTAL_BUILTINS


def never_fails(op: Operation) -> bool:
    """Whether evaluating `op` can never raise, whatever its (well-typed) operands hold.

    Deliberately small: constants, casts and containers; fields of records (the verifier
    proved the field exists); operators on numbers and strings except division; builtins that
    are total on their declared types; loops over lists and branches that touch no token and
    contain only such ops. Indexing, division, `min`/`max` (empty lists), parsing (`int`,
    `float`), `range` and `sorted` (size, mixed types) may fail and are excluded, and so are
    LLM and tool calls (they are not computations at all)."""
    match op:
        case ConstantOp() | UndefOp() | CastOp() | ListOp() | DictOp():
            return True
        case GetAttrOp():
            return isinstance(op.obj.type, RecordType)
        case BinaryOp():
            return _binary_never_fails(op)
        case UnaryOp():
            return op.symbol == "not" or op.arg.type in NUMERIC
        case BuiltinCallOp():
            return _builtin_never_fails(op)
        case ForOp() | IfOp():
            return _structure_never_fails(op)
    return False


def _structure_never_fails(op: ForOp | IfOp) -> bool:
    """A loop over a list or a branch, touching no token, whose nested ops never fail."""
    if any(v.type.is_token for v in op.operands):
        return False
    if isinstance(op, ForOp) and not isinstance(op.iterable.type, ListType):
        return False
    return all(n.has_trait(Terminator) or never_fails(n) for r in op.regions for n in r.walk())
