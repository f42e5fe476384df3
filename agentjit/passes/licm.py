"""`licm`: move loop-invariant work out of `ctl.for` bodies, innermost loops first.

Two kinds of work move to just before the loop:

1. Computations at the top level of the body that read only values defined outside the loop
   (transitively: hoisting one can make its readers invariant). Only ops that cannot raise
   (`effects.never_fails`: pure ops on a safe list, and token-free inner loops and branches
   made only of them) are hoisted, because the loop might run zero times and hoisting must
   never make a succeeding program fail; an `llm.call` at temperature 0 is hoisted only when
   the loop is known to run at least once (a constant non-empty list or range), so it never
   adds a model call. Ops that may fail, non-deterministic LLM calls and asserts stay.
2. Read-only page reads: when a carried token's whole chain through the body, from the body's
   block argument to the value yielded in the same position, consists of read-only tool calls
   (no navigation, no writes, idempotent) with invariant data operands, the chain runs once
   before the loop on the loop's initial token, the loop carries the chain's last token, and
   the body yields its token argument straight back. This is done only when nothing in the
   loop writes to the server (through any token). Then nothing in the loop changes that page,
   so every iteration reads the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentjit.ir import (
    BuiltinCallOp,
    ConstantOp,
    ForOp,
    ListOp,
    LlmCallOp,
    ModuleOp,
    Operation,
    Terminator,
    ToolCallOp,
    Value,
    YieldOp,
)
from agentjit.passes.base import Pass, PassContext
from agentjit.passes.contract_domain import defined_inside
from agentjit.passes.effects import is_read_only_call, never_fails


def is_invariant(op: Operation, loop: ForOp) -> bool:
    """Every value `op` (or an op nested in it) reads from outside `op` is defined outside
    `loop`: the op computes the same thing in every iteration."""
    return all(
        not defined_inside(v, loop) or defined_inside(v, op)
        for nested in op.walk()
        for v in nested.operands
    )


def runs_at_least_once(loop: ForOp) -> bool:
    """The loop's list is known non-empty: a constant list, a `dsl.list` or a constant range."""
    source = getattr(loop.iterable, "op", None)
    if isinstance(source, ConstantOp):
        return isinstance(source.value, list) and len(source.value) > 0
    if isinstance(source, ListOp):
        return len(source.items) > 0
    if isinstance(source, BuiltinCallOp) and source.callee == "range" and not source.kwargs:
        bounds = [getattr(v, "op", None) for v in source.operands]
        if all(isinstance(b, ConstantOp) and type(b.value) is int for b in bounds):
            try:
                return len(range(*(b.value for b in bounds))) > 0
            except ValueError:  # range() with step 0
                return False
    return False


def may_hoist(op: Operation, loop: ForOp, nonempty: bool) -> bool:
    """Whether `op` may run once before `loop` instead of in every iteration."""
    if op.has_trait(Terminator) or not is_invariant(op, loop):
        return False
    if isinstance(op, LlmCallOp):
        # Never add a model call to a loop that may not run.
        return op.is_deterministic() and nonempty
    return never_fails(op)


def hoist_pure(loop: ForOp) -> bool:
    """Move invariant pure ops from the top level of the body to just before the loop."""
    nonempty = runs_at_least_once(loop)
    body = loop.body.block
    moved = False
    for op in list(body.ops):
        if may_hoist(op, loop, nonempty):
            body.remove(op)
            loop.parent.insert_before(op, loop)
            moved = True
    return moved


def read_chain(loop: ForOp, position: int) -> list[ToolCallOp] | None:
    """The read-only calls carried token `position` runs through in one iteration, when that is
    all that happens to it and their data operands are invariant; else None."""
    body = loop.body.block
    yielded = body.terminator
    assert isinstance(yielded, YieldOp)
    token: Value = body.args[position + 1]
    chain: list[ToolCallOp] = []
    while token is not yielded.operands[position]:
        users = token.users
        call = users[0] if len(users) == 1 else None
        if not (
            is_read_only_call(call)
            and len(call.token_operands) == 1
            and not any(defined_inside(v, loop) for v in call.data_operands)
        ):
            return None
        chain.append(call)
        token = call.token_results[0]
    return chain


def hoist_chain(loop: ForOp, position: int, chain: list[ToolCallOp]) -> None:
    """Run `chain` once before `loop`, threading the loop's initial token through it."""
    body = loop.body.block
    arg = body.args[position + 1]
    initial = loop.init[position]
    body.terminator.set_operand(position, arg)
    first = chain[0]
    first.set_operand(first.operands.index(arg), initial)
    for call in chain:
        body.remove(call)
        loop.parent.insert_before(call, loop)
    loop.set_operand(1 + position, chain[-1].token_results[0])


def writes_anything(loop: ForOp) -> bool:
    """Some tool call in `loop` (on any tab or resource) changes server state."""
    return any(isinstance(op, ToolCallOp) and op.declared_effects.writes for op in loop.walk())


def hoist_reads(loop: ForOp) -> bool:
    """Hoist every carried token's read-only chain (see `read_chain`), unless the loop writes:
    a page shows server state, so a write even through another token may change a read."""
    if writes_anything(loop):
        return False
    moved = False
    for position, value in enumerate(loop.init):
        if not value.type.is_token:
            continue
        chain = read_chain(loop, position)
        if chain:
            hoist_chain(loop, position, chain)
            moved = True
    return moved


def hoist_loop(loop: ForOp) -> bool:
    """Hoist what can leave `loop` until nothing more can (reads can unlock pure ops)."""
    changed = False
    while hoist_pure(loop) | hoist_reads(loop):
        changed = True
    return changed


@dataclass(frozen=True)
class LoopInvariantMotionPass(Pass):
    """Hoist loop-invariant pure ops and loop-invariant page reads out of `ctl.for` loops.

    Legal on any verified module. Preserves results: a hoisted op computes the same value
    from the same operands; ops that could raise are never hoisted (a loop may run zero times)
    and a deterministic LLM call is hoisted only out of a loop that surely runs, so hoisting
    adds neither failures nor model calls. Preserves every navigation, write and assert and
    their order: only read-only calls move, and only when nothing else in the loop touches
    their tab and nothing in it writes. With zero iterations a hoisted read runs once where it
    did not before; that is allowed, because a read changes nothing and `check-contracts`
    proved its requirement holds at loop entry (nothing in the loop changes the page, so the
    entry state reaches it).
    """

    name = "licm"

    def run(self, module: ModuleOp, ctx: PassContext) -> None:
        # Reversed pre-order visits every loop after the loops nested in it.
        loops = [op for op in module.walk() if isinstance(op, ForOp)]
        for loop in reversed(loops):
            if hoist_loop(loop):
                ctx.changed = True
