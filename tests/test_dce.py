"""`dce`: what it removes, what it must keep, and that programs behave the same afterwards."""

from __future__ import annotations

import pytest

from agentjit.ir import ModuleOp, parse_ir, print_ir, verify
from agentjit.passes import PassManager
from agentjit.passes.dce import DeadCodePass
from tests.helpers import assert_changes_once, compile_dsl, observe, run_on_model


def dce(module: ModuleOp) -> str:
    PassManager.from_pipeline("dce").run(module)
    return print_ir(module)


def count(module: ModuleOp, name: str) -> int:
    return sum(1 for op in module.walk() if op.name == name)


def tools(module: ModuleOp) -> list[str]:
    return [op.tool for op in module.walk() if op.name == "tool.call"]


IR_IN = """\
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%flag: bool, %tab: !tab):
    %0, %tab_1 = "tool.call"(%tab) {args = [], effects = {"reads_page": false, "navigates": true, "writes": [], "idempotent": true, "commutative": false}, tool = "shop.go_home"} : (!tab) -> (none, !tab)
    %x, %tab_4 = "ctl.if"(%flag, %tab_1) ({
    ^bb0(%tab_2: !tab):
      %1 = "dsl.const"() {value = 1} : () -> (int)
      %2 = "llm.call"(%1) {args = ["n"], model = "default", temperature = 0.5, template = "{n}"} : (int) -> (str)
      "ctl.yield"(%1, %tab_2) : (int, !tab) -> ()
    }, {
    ^bb0(%tab_3: !tab):
      %3 = "dsl.const"() {value = 2} : () -> (int)
      "ctl.yield"(%3, %tab_3) : (int, !tab) -> ()
    }) : (bool, !tab) -> (int, !tab)
    %4 = "dsl.const"() {value = null} : () -> (none)
    "func.return"(%4, %tab_4) : (none, !tab) -> ()
  }) {arg_names = ["flag"], result_types = [none, !tab], sym_name = "main"} : () -> ()
}) {uses = ["shop"]} : () -> ()
"""  # noqa: E501

IR_OUT = """\
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%flag: bool, %tab: !tab):
    %0, %tab_1 = "tool.call"(%tab) {args = [], effects = {"reads_page": false, "navigates": true, "writes": [], "idempotent": true, "commutative": false}, tool = "shop.go_home"} : (!tab) -> (none, !tab)
    %1 = "dsl.const"() {value = null} : () -> (none)
    "func.return"(%1, %tab_1) : (none, !tab) -> ()
  }) {arg_names = ["flag"], result_types = [none, !tab], sym_name = "main"} : () -> ()
}) {uses = ["shop"]} : () -> ()
"""  # noqa: E501


def test_removes_an_if_that_only_computes_unused_values_and_rewires_its_token() -> None:
    assert dce(parse_ir(IR_IN)) == IR_OUT


def test_removes_unused_pure_ops_llm_calls_and_reads() -> None:
    module = compile_dsl(
        """
        use shop

        def main(category: str = "Cables") -> int:
            open_category(name=category)
            unused = list_products()
            note = llm("describe {c}", c=category)
            wild = llm("guess {c}", c=category, temperature=0.9)
            x = len(category) * 2
            return len(list_products())
        """
    )
    assert count(module, "llm.call") == 2 and tools(module).count("shop.list_products") == 2
    dce(module)
    assert count(module, "llm.call") == 0
    assert tools(module) == ["shop.open_category", "shop.list_products"]
    assert count(module, "dsl.mul") == 0


def test_keeps_navigations_writes_asserts_and_their_order() -> None:
    module = compile_dsl(
        """
        use shop

        def main() -> str:
            go_home()
            open_category(name="Cables")
            items = list_products()
            assert len(items) > 0, "empty"
            details = product_details(title=items[0].title)
            add_to_basket(title=items[0].title)
            view_basket()
            return "done"
        """
    )
    before = tools(module)
    dce(module)
    assert tools(module) == before
    assert count(module, "dsl.assert") == 1


def test_removes_effect_free_loops_and_branches_but_not_ones_with_effects() -> None:
    module = compile_dsl(
        """
        use shop

        def main(flag: bool) -> int:
            search(query="lamp")
            for p in list_products():
                total = p.price * 2
                list_products()
            if flag:
                list_products()
            items = list_products()
            for p in items:
                assert p.price > 0, "free item"
            for p in items:
                add_to_basket(title=p.title)
            return len(items)
        """
    )
    assert count(module, "ctl.for") == 3 and count(module, "ctl.if") == 1
    dce(module)
    verify(module)
    assert count(module, "ctl.for") == 2 and count(module, "ctl.if") == 0
    assert tools(module) == ["shop.search", "shop.list_products", "shop.add_to_basket"]


def test_unused_pure_failures_are_removed_by_design() -> None:
    module = compile_dsl(
        """
        def main(xs: list[int]) -> int:
            boom = xs[99]
            return len(xs)
        """
    )
    assert run_on_model(module, {"xs": [1]})[0] == ("raised", "IndexError")
    dce(module)
    assert run_on_model(module, {"xs": [1]})[0] == 1


def test_sets_changed_only_when_it_changes_something() -> None:
    module = compile_dsl("def main(x: int) -> int:\n    y = x + 1\n    return x\n")
    assert_changes_once(DeadCodePass(), module)


PROGRAMS = [
    """
    use shop

    def main(category: str = "Books") -> float:
        open_category(name=category)
        listed = list_products()
        spare = list_products()
        cheap = [p for p in listed if p.price < 20.0]
        unused = [p.title for p in spare]
        if len(cheap) > 0:
            add_to_basket(title=cheap[0].title)
        lines = view_basket()
        return sum([line.price for line in lines])
    """,
    """
    use tracker

    def main(ids: list[int]) -> list[str]:
        login(user="alice", password="secret")
        out = []
        for i in ids:
            t = view_ticket(id=i)
            ignored = llm("summarize {s}", s=t.summary)
            if t.status == "new":
                add_comment(id=i, text="looking")
            out = out + [t.status]
        return out
    """,
    """
    def main(n: int) -> int:
        total = 0
        for i in range(n):
            waste = i * i
            total += i
        return total
    """,
]


@pytest.mark.parametrize("source", PROGRAMS, ids=["shop", "tracker", "pure"])
def test_behaviour_is_preserved(source: str) -> None:
    module = compile_dsl(source)
    before = observe(module)
    dce(module)
    assert observe(module) == before
