"""The dataflow graph of a function, as a networkx DiGraph, and its DOT rendering.

Nodes are ops (nested ops included, tagged with their enclosing op); an edge u -> v means v reads
a value u defines. Edges carrying a state token are marked `token=True`: with effects as
dataflow, those edges are the program's whole ordering, so dependence analysis, DCE and
scheduling are graph algorithms over this one structure. Block arguments are attributed to the op
that owns the region (a loop body reads its carried values from the loop).
"""

from __future__ import annotations

import networkx as nx

from agentjit.ir.operation import Operation
from agentjit.ir.ops import FuncOp, ToolCallOp
from agentjit.ir.printer import ValueNames
from agentjit.ir.value import BlockArgument, OpResult, Value


def _producer(value: Value) -> Operation | None:
    if isinstance(value, OpResult):
        return value.op
    if isinstance(value, BlockArgument) and value.block.parent_op is not None:
        return value.block.parent_op
    return None


def _label(op: Operation) -> str:
    if isinstance(op, ToolCallOp):
        return f"tool.call\n{op.tool}"
    if op.name == "dsl.builtin":
        return f"builtin\n{op.attributes.get('callee')}"
    if op.name == "dsl.const":
        return f"const {op.attributes.get('value')!r}"[:40]
    return op.name


def dataflow_graph(func: FuncOp) -> nx.DiGraph:
    """The dataflow graph of `func`'s body (the function op itself stands for its arguments)."""
    graph = nx.DiGraph()
    names = ValueNames()
    names.name_all(func)
    for op in func.walk():
        parent = next(op.ancestors(), None)
        graph.add_node(id(op), op=op, label=_label(op), parent=id(parent) if parent else None)
    for op in func.walk():
        for value in op.operands:
            src = _producer(value)
            if src is None or id(src) not in graph:
                continue
            token = value.type.is_token
            if graph.has_edge(id(src), id(op)):
                graph.edges[id(src), id(op)]["token"] |= token
            else:
                graph.add_edge(id(src), id(op), token=token, value=names[value])
    return graph


def to_dot(graph: nx.DiGraph, title: str = "dataflow") -> str:
    """DOT text for a dataflow graph: token edges dashed and red, data edges solid."""
    import pydot

    dot = pydot.Dot(title, graph_type="digraph", rankdir="TB", fontname="Helvetica")
    ids = {node: f"n{i}" for i, node in enumerate(graph.nodes)}
    for node, data in graph.nodes(data=True):
        shape = "box" if data["op"].regions else "ellipse"
        dot.add_node(pydot.Node(ids[node], label=_quote(data["label"]), shape=shape))
    for u, v, data in graph.edges(data=True):
        style = {"style": "dashed", "color": "firebrick"} if data["token"] else {}
        dot.add_edge(pydot.Edge(ids[u], ids[v], label=_quote(data["value"]), **style))
    return dot.to_string()


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
