"""Dependence analysis: which ops of a block must run before which, read off the dataflow.

Effects are dataflow in this IR, so dependences are def-use edges between the ops of one block
(a value used anywhere inside an op's regions counts as used by the op). Each edge has a kind:

    data         a value (not a token) flows from one op to the other
    tab          a tab's state token: the second op sees the page the first one left
    resource     a server resource's token: the second op sees the first one's write
    commutative  a resource token between two writes declared commutative: threaded in program
                 order, but the writes may happen in either order, so this edge does not order

`block_dependences(block)` builds the graph (networkx); `ordering(graph)` drops commutative edges;
`critical_path(func)` is the longest chain of tab-touching calls, the measure `parallelize`
shortens. `dependences(ctx, block)` caches per block in the pass context, which the manager
clears after any pass that changes the IR.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import networkx as nx

from agentjit.ir import (
    Block,
    ForOp,
    FuncOp,
    IfOp,
    Operation,
    OpResult,
    ResourceToken,
    TabToken,
    ToolCallOp,
    Value,
)
from agentjit.passes.base import PassContext
from agentjit.passes.effects import touches_tab

DEFAULT_TRIP_COUNT = 8
"""Loop trip count assumed by `critical_path` when nothing better is known."""


def _used_values(op: Operation) -> Iterator[Value]:
    for nested in op.walk():
        yield from nested.operands


def _edge_kind(value: Value, src: Operation, dst: Operation) -> str:
    if isinstance(value.type, TabToken):
        return "tab"
    if isinstance(value.type, ResourceToken):
        both = all(_commutative_write(o, value.type) for o in (src, dst))
        return "commutative" if both else "resource"
    return "data"


def _commutative_write(op: Operation, token: ResourceToken) -> bool:
    if not isinstance(op, ToolCallOp):
        return False
    effects = op.declared_effects
    return effects.commutative and token.resource.split(".", 1)[-1] in effects.writes


def block_dependences(block: Block) -> nx.DiGraph:
    """Ops of `block` as nodes (terminator included); an edge per dependence, with its kind."""
    graph = nx.DiGraph()
    graph.add_nodes_from(block.ops)
    for op in block.ops:
        for value in _used_values(op):
            src = value.op if isinstance(value, OpResult) else None
            if src is None or src.parent is not block or src is op:
                continue
            kind = _edge_kind(value, src, op)
            old = graph.edges[src, op]["kind"] if graph.has_edge(src, op) else None
            if old is None or old == "commutative" or (old == "data" and kind != "commutative"):
                graph.add_edge(src, op, kind=kind)
    return graph


def ordering(graph: nx.DiGraph) -> nx.DiGraph:
    """The dependences that order ops (commutative writes left unordered)."""
    kept = [(u, v) for u, v, kind in graph.edges(data="kind") if kind != "commutative"]
    out = nx.DiGraph(kept)
    out.add_nodes_from(graph.nodes)
    return out


def dependences(ctx: PassContext, block: Block) -> nx.DiGraph:
    """`block_dependences(block)`, cached in `ctx` until the IR changes."""
    key = ("dependences", id(block))
    cached = ctx.analyses.get(key)
    if cached is None or cached[0] is not block:
        cached = ctx.analyses[key] = (block, block_dependences(block))
    return cached[1]


def depends_on(graph: nx.DiGraph, later: Operation, earlier: Operation) -> bool:
    """Whether `later` must wait for `earlier` (transitively, commutative edges ignored)."""
    return earlier in nx.ancestors(ordering(graph), later)


# ---- critical path ------------------------------------------------------------------------------


def op_length(op: Operation, trip_count: int) -> float:
    """Tab-touching calls on the longest path through `op` (loops run `trip_count` times)."""
    if touches_tab(op):
        return 1.0
    if isinstance(op, IfOp):
        return max(block_length(r.block, trip_count) for r in op.regions)
    if isinstance(op, ForOp):
        per_iteration = block_length(op.body.block, trip_count)
        lanes = op.attributes.get("max_tabs") or 1
        return math.ceil(trip_count / lanes) * per_iteration
    return 0.0


def block_length(block: Block, trip_count: int = DEFAULT_TRIP_COUNT) -> float:
    """The longest dependence chain of `block`, counted in tab-touching calls."""
    graph = ordering(block_dependences(block))
    finish: dict[Operation, float] = {}
    for op in nx.topological_sort(graph):
        start = max((finish[p] for p in graph.predecessors(op)), default=0.0)
        finish[op] = start + op_length(op, trip_count)
    return max(finish.values(), default=0.0)


def critical_path(func: FuncOp, trip_count: int = DEFAULT_TRIP_COUNT) -> float:
    """Tab-touching calls on the function's critical path, each loop run `trip_count` times."""
    return block_length(func.body.block, trip_count)


def serial_length(func: FuncOp, trip_count: int = DEFAULT_TRIP_COUNT) -> float:
    """Tab-touching calls if everything ran one after another (the serial plan's length)."""

    def total(block: Block) -> float:
        count = 0.0
        for op in block.ops:
            if touches_tab(op):
                count += 1
            elif isinstance(op, IfOp):
                count += max(total(r.block) for r in op.regions)
            elif isinstance(op, ForOp):
                count += trip_count * total(op.body.block)
        return count

    return total(func.body.block)


__all__ = [
    "block_dependences",
    "block_length",
    "critical_path",
    "dependences",
    "depends_on",
    "ordering",
    "serial_length",
    "touches_tab",
]
