"""Dependence analysis: edge kinds read off the dataflow, commutative writes, critical paths."""

from __future__ import annotations

from agentjit.ir import ToolCallOp
from agentjit.passes import PassContext
from agentjit.passes.dependence import (
    block_dependences,
    critical_path,
    dependences,
    depends_on,
    serial_length,
)
from tests.helpers import compile_dsl

BASKET = """
    use shop

    def main(a: str = "x", b: str = "y") -> int:
        search(query=a)
        items = list_products()
        add_to_basket(title=items[0].title)
        add_to_basket(title=items[1].title)
        lines = view_basket()
        return len(lines)
"""


def calls(block) -> dict[str, list[ToolCallOp]]:
    out: dict[str, list[ToolCallOp]] = {}
    for op in block.ops:
        if isinstance(op, ToolCallOp):
            out.setdefault(op.tool.split(".")[1], []).append(op)
    return out


def test_edges_are_labelled_by_what_flows() -> None:
    block = compile_dsl(BASKET).function("main").body.block
    graph = block_dependences(block)
    c = calls(block)
    search, listing = c["search"][0], c["list_products"][0]
    first, second = c["add_to_basket"]
    assert graph.edges[search, listing]["kind"] == "tab"
    # the second add also uses the first's tab token, which orders them
    assert graph.edges[first, second]["kind"] == "tab"
    kinds = {graph.edges[u, v]["kind"] for u, v in graph.edges if v is first}
    assert kinds == {"data", "tab"}  # the title comes from the listing


def test_commutative_writes_are_left_unordered() -> None:
    module = compile_dsl(BASKET)
    block = module.function("main").body.block
    first, second = calls(block)["add_to_basket"]
    token = next(v for v in second.operands if "basket" in str(v.type))
    first_tab = next(v for v in second.operands if str(v.type) == "!tab")
    # give the second add the first's incoming tab token (as if on a tab of its own), so
    # only the basket token links them
    second.set_operand(second.operands.index(first_tab), first.operands[-2])
    graph = block_dependences(block)
    assert token.op is first
    assert graph.edges[first, second]["kind"] == "commutative"
    assert not depends_on(graph, second, first)


def test_analysis_is_cached_per_block_until_the_ir_changes() -> None:
    block = compile_dsl(BASKET).function("main").body.block
    ctx = PassContext()
    assert dependences(ctx, block) is dependences(ctx, block)
    ctx.analyses.clear()  # what the manager does after a pass that changed the IR
    assert dependences(ctx, block) is not None


def test_critical_path_counts_tab_calls_and_loop_trips() -> None:
    module = compile_dsl(
        """
        use shop

        def main(cats: list[str]) -> int:
            n = 0
            for c in cats:
                open_category(name=c)
                n += len(list_products())
            return n
        """
    )
    func = module.function("main")
    assert critical_path(func, trip_count=3) == serial_length(func, trip_count=3) == 6
