"""A site's state machine, derived from its contracts: which tool calls lead from which
abstract state to which, and the shortest call sequence that establishes a requirement.

Nodes are assignments of the site's `Enum` fields (each a value or UNKNOWN); an edge u -> v
labelled `t` means tool `t` may be called in u (its `requires` on Enum fields hold) and leaves v
(its `ensures` applied). `Text` fields and `$param` patterns are satisfied by choosing arguments,
so they do not constrain the graph. The parallelize pass uses `shortest_calls` to prepare a
fresh tab; `check-contracts` uses it to say how to repair a violated requirement.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from agentjit.tools.site import Site, Tool
from agentjit.tools.state import UNKNOWN, allowed_values, matches

if TYPE_CHECKING:  # networkx loads in ~150 ms: only when a graph is built
    import networkx as nx

Node = tuple[tuple[str, Any], ...]
"""An abstract state restricted to Enum fields: sorted (field, value-or-UNKNOWN) pairs."""


def enabled(tool: Tool, state: Mapping[str, Any], enum_fields: Iterable[str]) -> bool:
    """Whether `tool`'s requirements on Enum fields hold in `state`."""
    return all(
        matches(tool.contract.requires[f], state.get(f, UNKNOWN))
        for f in enum_fields
        if f in tool.contract.requires
    )


def after(tool: Tool, state: Mapping[str, Any], enum_fields: Iterable[str]) -> dict[str, Any]:
    """The Enum-field state after calling `tool` in `state`."""
    out = {f: state.get(f, UNKNOWN) for f in enum_fields}
    for f, pattern in tool.contract.ensures.items():
        if f in out:
            values = allowed_values(pattern)
            out[f] = next(iter(values)) if values is not None and len(values) == 1 else UNKNOWN
    return out


def node_of(state: Mapping[str, Any], enum_fields: Iterable[str]) -> Node:
    return tuple((f, state.get(f, UNKNOWN)) for f in sorted(enum_fields))


@cache
def state_graph(site: Site) -> nx.MultiDiGraph:
    """Every Enum-state of `site` and the tool calls between them (cached per site)."""
    import networkx as nx

    fields = site.state.enum_fields()
    graph = nx.MultiDiGraph()
    domains = [(*kind.values, UNKNOWN) for kind in fields.values()]
    for combo in itertools.product(*domains):
        state = dict(zip(fields, combo, strict=True))
        graph.add_node(node_of(state, fields))
        for name, tool in site.tools.items():
            if enabled(tool, state, fields):
                graph.add_edge(
                    node_of(state, fields), node_of(after(tool, state, fields), fields), tool=name
                )
    return graph


def shortest_calls(
    site: Site, start: Mapping[str, Any], requires: Mapping[str, Any]
) -> list[str] | None:
    """The fewest tool calls that lead from `start` to a state meeting the Enum part of
    `requires` ([] if it already holds), or None when no sequence does."""
    import networkx as nx

    fields = site.state.enum_fields()
    wanted = {f: p for f, p in requires.items() if f in fields}
    graph = state_graph(site)
    source = node_of(start, fields)
    targets = [n for n in graph if all(matches(p, dict(n)[f]) for f, p in wanted.items())]
    if not targets:
        return None
    best: list[str] | None = None
    for target in targets:
        try:
            path = nx.shortest_path(graph, source, target)
        except nx.NetworkXNoPath:
            continue
        if best is None or len(path) - 1 < len(best):
            best = [next(iter(graph[u][v].values()))["tool"] for u, v in itertools.pairwise(path)]
    return best


def to_dot(site: Site) -> str:
    """The state graph in DOT, one edge per (state, tool, state), self-loops omitted."""
    lines = [f'digraph "{site.name}" {{', "  rankdir=LR;"]
    graph = state_graph(site)
    ids = {node: f"s{i}" for i, node in enumerate(graph)}
    for node, ident in ids.items():
        label = "\\n".join(f"{f}={v!r}" for f, v in node)
        lines.append(f'  {ident} [label="{label}", shape=box];')
    for u, v, data in graph.edges(data=True):
        if u != v:
            lines.append(f'  {ids[u]} -> {ids[v]} [label="{data["tool"]}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
