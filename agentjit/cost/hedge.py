"""Hedged chains in a flattened plan: k copies of a hedgeable tab's work, first to finish wins.

The chain is the `tab.open` of a hedgeable tab, every op in its block that (transitively) uses
that tab's values, and its `tab.close`. Each copy gets its own nodes; copies after the first run
only when the strategy's hedge k is large enough (a guard), and none of them counts toward the
makespan by itself. A join node waits for the first running copy's close; everything after the
chain that used its values waits for the join. In a parallel loop the chain takes one slot of
the loop's tab pool (at the first copy's open) and gives it back at the join.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from agentjit.cost.plan import IN_SPAN, JOIN_FIRST, GuardKind, NodeInfo, ResourceRole
from agentjit.ir import Operation
from agentjit.ir.ops import TabCloseOp, TabOpenOp
from agentjit.ir.value import Value

if TYPE_CHECKING:
    from agentjit.cost.flatten import Flattener, Frontier, Scope


def chain_extent(
    ops: list[Operation], i: int, takes_time: Callable[[Operation], bool]
) -> tuple[set[Operation], int] | None:
    """The ops of the chain `ops[i]` opens, and the index of its close. None when there is no
    close, or when something before the close that takes time reads the chain's results
    without working on its tab (an LLM call on a result, say): that op must wait for the
    winning copy, whose join comes only at the close, so the chain is simulated unhedged."""
    opened = ops[i]
    assert isinstance(opened, TabOpenOp)
    values: set[Value] = {opened.opened}
    members: set[Operation] = {opened}
    for j in range(i + 1, len(ops)):
        op = ops[j]
        # An `if` or loop that reads the chain inside its regions belongs to it as well.
        if not any(v in values for inner in op.walk() for v in inner.operands):
            continue
        if takes_time(op) and not any(v in values and v.type.is_token for v in op.operands):
            return None
        members.add(op)
        if isinstance(op, TabCloseOp):
            return members, j
        values.update(op.results)
    return None


def emit_hedged_chain(fl: Flattener, ops: list[Operation], i: int, scope: Scope) -> int:
    """Emit the chain opened by `ops[i]` once per copy plus its join; the index after it."""
    extent = chain_extent(ops, i, fl.timed)
    if extent is None:
        fl.visit(ops[i], scope)
        return i + 1
    fl.out.hedge_units += 1
    members, close_at = extent
    copies = [replace(scope, hedge_copy=0)] + [
        replace(
            scope,
            guard=fl.out.guard(GuardKind.HEDGE_COPY, -1, c, scope.guard),
            lane=f"{scope.lane} copy {c}",
            hedge_copy=c,
        )
        for c in range(1, fl.hedge_max)
    ]
    envs: list[dict[Value, Frontier]] = [{} for _ in copies]
    closes, opens = [], []
    for op in ops[i : close_at + 1]:
        if op not in members:
            fl.visit(op, scope)
            continue
        for copy, env in zip(copies, envs, strict=True):
            fl.env.update(env)
            if isinstance(op, TabCloseOp):
                closes.append(fl.tab_close(op, copy))
            else:
                fl.visit(op, copy)
                if isinstance(op, TabOpenOp):
                    opens.append(fl.tab_opener[op.opened])
            env.update({r: fl.env[r] for r in op.results if r in fl.env})
            env.update({r: fl.env[r] for r in _nested_results(op) if r in fl.env})
    _join(fl, members, closes, opens[0], scope)
    return close_at + 1


def _join(
    fl: Flattener, members: set[Operation], closes: list[int], first_open: int, scope: Scope
) -> None:
    holds = []
    if scope.pool >= 0:
        holds = [(scope.pool, ResourceRole.RELEASE, first_open)]
    join = fl.node(
        closes, None, scope, holds, NodeInfo("first of", scope.lane), JOIN_FIRST | IN_SPAN
    )
    for op in members:
        for r in op.results:
            # The source tab's token passes through the fork untouched: later work on the
            # source tab does not wait for the chain.
            if not (isinstance(op, TabOpenOp) and r is op.source_out):
                fl.env[r] = frozenset({join})


def _nested_results(op: Operation) -> list[Value]:
    """Values defined inside `op`'s regions (a branch in the chain): they are per copy too."""
    found: list[Value] = []
    for region in op.regions:
        for block in region.blocks:
            found.extend(block.args)
            for inner in block.ops:
                found.extend(inner.results)
    return found
