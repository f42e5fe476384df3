"""`licm`: what leaves loops, what must stay, and that programs behave the same afterwards."""

from __future__ import annotations

import pytest

from agentjit.ir import ForOp, ModuleOp, parse_ir, print_ir
from agentjit.passes import PassManager
from agentjit.passes.licm import LoopInvariantMotionPass
from tests.helpers import assert_changes_once, compile_dsl, observe, run_outcome


def licm(module: ModuleOp) -> str:
    PassManager.from_pipeline("licm").run(module)
    return print_ir(module)


def loops(module: ModuleOp) -> list[ForOp]:
    return [op for op in module.walk() if isinstance(op, ForOp)]


def names_in(op, name: str) -> int:
    return sum(1 for nested in op.walk() if nested.name == name and nested is not op)


def reads(trace: list) -> int:
    return sum(1 for tool, _ in trace if tool == "shop.list_products")


IR_IN = """\
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%xs: list<int>, %k: int, %tab: !tab):
    %r = "ctl.for"(%xs) ({
    ^bb0(%x: int):
      %inner = "ctl.for"(%xs) ({
      ^bb0(%y: int):
        %0 = "dsl.const"() {value = 2} : () -> (int)
        %1 = "dsl.mul"(%k, %0) : (int, int) -> (int)
        %2 = "dsl.add"(%y, %1) : (int, int) -> (int)
        "ctl.yield"(%2) : (int) -> ()
      }) {collect = true, filter = false} : (list<int>) -> (list<int>)
      %3 = "dsl.div"(%x, %k) : (int, int) -> (float)
      "ctl.yield"(%3) : (float) -> ()
    }) {collect = true, filter = false} : (list<int>) -> (list<float>)
    "func.return"(%r, %tab) : (list<float>, !tab) -> ()
  }) {arg_names = ["xs", "k"], result_types = [list<float>, !tab], sym_name = "main"} : () -> ()
}) {uses = []} : () -> ()
"""

IR_OUT = """\
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%xs: list<int>, %k: int, %tab: !tab):
    %0 = "dsl.const"() {value = 2} : () -> (int)
    %1 = "dsl.mul"(%k, %0) : (int, int) -> (int)
    %inner = "ctl.for"(%xs) ({
    ^bb0(%y: int):
      %2 = "dsl.add"(%y, %1) : (int, int) -> (int)
      "ctl.yield"(%2) : (int) -> ()
    }) {collect = true, filter = false} : (list<int>) -> (list<int>)
    %r = "ctl.for"(%xs) ({
    ^bb0(%x: int):
      %3 = "dsl.div"(%x, %k) : (int, int) -> (float)
      "ctl.yield"(%3) : (float) -> ()
    }) {collect = true, filter = false} : (list<int>) -> (list<float>)
    "func.return"(%r, %tab) : (list<float>, !tab) -> ()
  }) {arg_names = ["xs", "k"], result_types = [list<float>, !tab], sym_name = "main"} : () -> ()
}) {uses = []} : () -> ()
"""


def test_hoists_out_of_nested_loops_and_keeps_division_inside() -> None:
    # The inner loop is invariant in the outer one once its own invariants left it; the
    # division stays because with k == 0 and no iterations it must not raise.
    assert licm(parse_ir(IR_IN)) == IR_OUT


def test_hoists_invariant_pure_ops_transitively() -> None:
    module = compile_dsl(
        """
        def main(xs: list[int], k: int, names: list[str]) -> list[int]:
            return [x * (k * 2 + len(names)) for x in xs]
        """
    )
    licm(module)
    (loop,) = loops(module)
    assert [op.name for op in loop.body.block.ops] == ["dsl.mul", "ctl.yield"]


@pytest.mark.parametrize(
    "expr", ["names[0]", "10 // k", "10 % k", "min(names)", "int(names[0])", "range(k)"]
)
def test_never_hoists_what_may_fail_out_of_a_loop_that_may_not_run(expr: str) -> None:
    module = compile_dsl(
        f"""
        def main(xs: list[int], k: int, names: list[str]) -> int:
            n = 0
            for x in xs:
                y = {expr}
                n += 1
            return n
        """
    )
    args = {"xs": [], "k": 0, "names": []}
    assert run_outcome(module, args)[0] == 0
    licm(module)
    assert run_outcome(module, args)[0] == 0


def test_hoists_deterministic_llm_calls_only_out_of_loops_that_run() -> None:
    module = compile_dsl(
        """
        def main(topic: str, xs: list[str]) -> list[str]:
            a = [llm("one word about {t}", t=topic) + x for x in ["a", "b"]]
            b = [llm("another word about {t}", t=topic) + x for x in xs]
            c = [llm("a wild word about {t}", t=topic, temperature=1) + x for x in ["a"]]
            return a + b + c
        """
    )
    licm(module)
    in_loops = {
        op.template for loop in loops(module) for op in loop.walk() if op.name == "llm.call"
    }
    assert in_loops == {"another word about {t}", "a wild word about {t}"}
    assert sum(1 for op in module.walk() if op.name == "llm.call") == 3


READ_LOOP = """
use shop

def main(titles: list[str]) -> list[bool]:
    open_category(name="Cables")
    found = []
    for t in titles:
        listed = list_products()
        again = list_products()
        names = [p.title for p in listed]
        found = found + [t in names and len(again) > 0]
    return found
"""


def test_hoists_a_loop_invariant_read_chain_so_the_page_is_read_once() -> None:
    module = compile_dsl(READ_LOOP)
    args = {"titles": ["HDMI cable", "USB hub", "Kettle"]}
    before = [run_outcome(module, args, seed) for seed in range(4)]
    assert all(reads(trace) == 6 for _, trace in before)
    licm(module)
    PassManager.from_pipeline("check-contracts").run(module)
    outer = loops(module)[-1]
    assert names_in(outer, "tool.call") == 0
    after = [run_outcome(module, args, seed) for seed in range(4)]
    assert [r for r, _ in after] == [r for r, _ in before]
    assert all(reads(trace) == 2 for _, trace in after)


def test_a_hoisted_read_runs_even_with_zero_iterations_and_that_is_allowed() -> None:
    module = compile_dsl(READ_LOOP)
    licm(module)
    result, trace = run_outcome(module, {"titles": []})
    assert result == [] and reads(trace) == 2


@pytest.mark.parametrize(
    "body",
    [
        ['search(query="lamp")', "n = n + len(list_products())"],
        ["add_to_basket(title=t)", "n = n + len(list_products())"],
        ["n = n + len(list_products())", "product_details(title=t)"],
    ],
    ids=["navigates", "writes", "reads-then-navigates"],
)
def test_reads_stay_when_the_loop_changes_the_page(body: list[str]) -> None:
    head = ["use shop", "def main(titles: list[str]) -> int:", '    open_category(name="Cables")']
    loop = ["    n = 0", "    for t in titles:", *("        " + line for line in body)]
    module = compile_dsl("\n".join([*head, *loop, "    return n", ""]))
    licm(module)
    (loop_op,) = loops(module)
    assert names_in(loop_op, "tool.call") == 2


WRITE_ELSEWHERE = """\
"builtin.module"() ({
  "func.func"() ({
  ^bb0(%xs: list<int>, %tab: !tab, %basket: !res<shop.basket>):
    %tab_2, %basket_2 = "ctl.for"(%xs, %tab, %basket) ({
    ^bb0(%x: int, %tab_1: !tab, %basket_1: !res<shop.basket>):
      %0, %tab_3 = "tool.call"(%tab_1) {args = [], effects = {"reads_page": true, "navigates": false, "writes": [], "idempotent": true, "commutative": false}, tool = "shop.list_products"} : (!tab) -> (list<any>, !tab)
      %1, %basket_3 = "tool.call"(%basket_1) {args = [], effects = {"reads_page": false, "navigates": false, "writes": ["basket"], "idempotent": false, "commutative": false}, tool = "shop.api_clear"} : (!res<shop.basket>) -> (none, !res<shop.basket>)
      "ctl.yield"(%tab_3, %basket_3) : (!tab, !res<shop.basket>) -> ()
    }) {collect = false, filter = false} : (list<int>, !tab, !res<shop.basket>) -> (!tab, !res<shop.basket>)
    %2 = "dsl.const"() {value = null} : () -> (none)
    "func.return"(%2, %tab_2, %basket_2) : (none, !tab, !res<shop.basket>) -> ()
  }) {arg_names = ["xs"], result_types = [none, !tab, !res<shop.basket>], sym_name = "main"} : () -> ()
}) {uses = []} : () -> ()
"""  # noqa: E501


def test_reads_stay_when_the_loop_writes_through_another_token() -> None:
    # A write that never touches the tab may still change what the page would show.
    module = parse_ir(WRITE_ELSEWHERE)
    assert licm(module) == print_ir(parse_ir(WRITE_ELSEWHERE))
    (loop,) = loops(module)
    assert names_in(loop, "tool.call") == 2


def test_sets_changed_only_when_it_changes_something() -> None:
    module = compile_dsl(
        "def main(xs: list[int], k: int) -> list[int]:\n    return [x + k * 2 for x in xs]\n"
    )
    assert_changes_once(LoopInvariantMotionPass(), module)


PROGRAMS = [
    READ_LOOP,
    """
    use shop

    def main(category: str = "Books") -> float:
        open_category(name=category)
        total = 0.0
        for i in range(3):
            items = list_products()
            bonus = len(category) * 2
            if len(items) > i:
                total += items[i].price + bonus
        return total
    """,
    """
    use tracker

    def main(ids: list[int]) -> list[str]:
        login(user="alice", password="secret")
        out = []
        for i in ids:
            t = view_ticket(id=i)
            prefix = "ticket " + str(len(ids))
            if t.status == "new":
                add_comment(id=i, text=prefix)
            out = out + [prefix + t.status]
        return out
    """,
]


@pytest.mark.parametrize("source", PROGRAMS, ids=["reads", "range", "tracker"])
def test_behaviour_is_preserved(source: str) -> None:
    module = compile_dsl(source)
    before = observe(module)
    licm(module)
    PassManager.from_pipeline("check-contracts").run(module)
    assert observe(module) == before
