"""`dce`: remove ops whose results nobody reads and whose running nobody could observe.

What goes: unused `Pure` ops (constants, operators, builtins, field access, `llm.call` at any
temperature), unused read-only `tool.call`s (no navigation, no writes, idempotent: a page read),
and `ctl.if` / `ctl.for` ops whose data results are unused and whose regions hold only such ops,
so that each of their token results is a token operand passed through. Removing an op that
threads a token rewires the token's readers to the token the op was given.

What stays: `dsl.assert`, navigating or writing tool calls, `tab.open` / `tab.close`,
terminators, and any control flow that contains one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentjit.ir import Block, ModuleOp, Operation
from agentjit.passes.base import Pass, PassContext
from agentjit.passes.effects import is_removable, remove

MAX_ROUNDS = 50


def is_dead(op: Operation) -> bool:
    """No data result of `op` is read, and `op` may be removed (see `effects.is_removable`)."""
    data = [r for r in op.results if not r.type.is_token]
    return not any(r.has_uses for r in data) and is_removable(op)


def sweep_block(block: Block) -> bool:
    """Remove dead ops from `block` and the regions nested in it; True if anything went.

    Walks backwards and cleans an op's regions before judging the op, so one sweep removes
    whole chains of dead values; `DeadCodePass` repeats sweeps until nothing changes."""
    changed = False
    for op in reversed(list(block.ops)):
        for region in op.regions:
            for inner in region.blocks:
                changed |= sweep_block(inner)
        if is_dead(op):
            remove(op)
            changed = True
    return changed


@dataclass(frozen=True)
class DeadCodePass(Pass):
    """Remove unused pure ops, unused page reads and control flow that only computes them.

    Legal on any verified module. Preserves every navigation, write, assert, tab op and the
    order of all of them (token edges are rewired, never reordered); preserves the results of
    the program. Semantic choice: a pure op that could fail at run time (`xs[99]`, `1 / 0`) is
    removed when its value is unused, like any other pure op: the DSL treats the failure of a
    value nobody reads as unobservable, so the optimized program may succeed where the
    unoptimized one raised. Removed reads are only page reads, which change nothing.
    Runs to a fixpoint.
    """

    name = "dce"

    def run(self, module: ModuleOp, ctx: PassContext) -> None:
        for _ in range(MAX_ROUNDS):
            if not sweep_block(module.body.block):
                return
            ctx.changed = True
