"""`cse`: merge identical pure computations, keeping the first and rewiring readers of the rest.

Two ops are identical when they have the same name, the same attributes (compared in their
printed form, so `1`, `1.0` and `true` differ), the same operand values (in any order for
`Commutative` ops) and the same result types. Only `Pure`, deterministic, region-free ops are
merged; an `llm.call` is deterministic only at temperature 0. Tool calls are never merged.

Scoping follows dominance in structured IR: a block sees the ops of its enclosing blocks that
come before it, so an op in a loop body or a branch may reuse an equal op from outside, but
never the reverse, and sibling regions (the two branches of an `if`) never share.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Hashable
from dataclasses import dataclass

from agentjit.ir import Block, Commutative, IsolatedFromAbove, ModuleOp, Operation
from agentjit.ir.printer import format_attr
from agentjit.passes.base import Pass, PassContext
from agentjit.passes.effects import is_mergeable

Scope = ChainMap[Hashable, Operation]


def merge_key(op: Operation) -> Hashable | None:
    """What makes `op` equal to another op, or None when it must not be merged."""
    if not is_mergeable(op):
        return None
    operands = tuple(op.operands)
    if op.has_trait(Commutative):
        # Values compare by identity; any fixed order makes `a*b` and `b*a` meet.
        operands = tuple(sorted(operands, key=id))
    attrs = tuple(sorted((k, format_attr(v)) for k, v in op.attributes.items()))
    types = tuple(str(r.type) for r in op.results)
    return (op.name, attrs, operands, types)


def replace(op: Operation, kept: Operation) -> None:
    """Make readers of `op` read the equal, dominating `kept` instead, and erase `op`."""
    for old, new in zip(op.results, kept.results, strict=True):
        old.replace_all_uses_with(new)
    op.erase()


def cse_block(block: Block, scope: Scope) -> bool:
    """Merge ops of `block` (and nested regions) into equal ones visible in `scope`."""
    changed = False
    for op in list(block.ops):
        key = merge_key(op)
        if key is not None and key in scope:
            replace(op, scope[key])
            changed = True
            continue
        if key is not None:
            scope[key] = op
        for region in op.regions:
            for inner in region.blocks:
                fresh = ChainMap() if op.has_trait(IsolatedFromAbove) else scope.new_child()
                changed |= cse_block(inner, fresh)
    return changed


@dataclass(frozen=True)
class CommonSubexpressionPass(Pass):
    """Merge identical pure deterministic ops (including `llm.call` at temperature 0).

    Legal on any verified module: the kept op dominates every op it replaces, and merged ops
    compute equal values from equal operands, so results are unchanged. An op that could fail
    (`xs[i]`) is merged only into an earlier equal op, which would have failed first. Tool
    calls, asserts, non-deterministic LLM calls and ops with regions are never touched, so
    every effect and its order is preserved. One walk reaches the fixpoint: operands are
    rewired before the ops that read them are looked at.
    """

    name = "cse"

    def run(self, module: ModuleOp, ctx: PassContext) -> None:
        if cse_block(module.body.block, ChainMap()):
            ctx.changed = True
