"""`parallelize`: what moves to other tabs, what must stay, and that behaviour is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentjit import compile_file
from agentjit.ir import (
    ForOp,
    ModuleOp,
    PassError,
    TabCloseOp,
    TabOpenOp,
    ToolCallOp,
    VerifyError,
    print_ir,
    verify,
)
from agentjit.ir.clone import clone_op
from agentjit.passes import PassManager
from agentjit.passes.dependence import critical_path
from tests.helpers import assert_round_trip, compile_dsl, observe

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.agent"))


def parallelize(module: ModuleOp, options: str = "max_tabs=4") -> ModuleOp:
    PassManager.from_pipeline(f"parallelize{{{options}}},check-contracts").run(module)
    return module


def tabs_of(module: ModuleOp) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for op in module.walk():
        if isinstance(op, ToolCallOp):
            out.setdefault(op.tool.split(".")[1], set()).add(op.attributes.get("tab"))
    return out


FANOUT = """
    use shop

    def main(category: str = "Books") -> list[float]:
        open_category(name=category)
        details = [product_details(title=p.title) for p in list_products()]
        return [d.price for d in details]
"""


def test_a_fan_out_loop_gets_a_tab_per_iteration() -> None:
    module = compile_dsl(FANOUT)
    before, path_before = observe(module, range(5)), critical_path(module.function("main"))
    parallelize(module)
    loop = next(op for op in module.walk() if isinstance(op, ForOp) and op.init)
    assert loop.max_tabs == 4
    fork = loop.body.block.ops[0]
    assert isinstance(fork, TabOpenOp) and fork.tab == 1 and fork.hedgeable
    assert isinstance(loop.body.block.ops[-2], TabCloseOp)
    assert tabs_of(module) == {"open_category": {0}, "list_products": {0}, "product_details": {1}}
    assert critical_path(module.function("main")) == 2 + 2  # 8 trips / 4 tabs = 2 rounds
    assert path_before == 2 + 8
    assert observe(module, range(5)) == before


def test_a_loop_that_needs_a_listing_replays_the_navigation_that_showed_it() -> None:
    module = compile_dsl(
        """
        use shop

        def main(category: str = "Books") -> int:
            open_category(name=category)
            items = list_products()
            for p in items:
                add_to_basket(title=p.title)
            return len(items)
        """
    )
    before = observe(module, range(5))
    parallelize(module)
    loop = next(op for op in module.walk() if isinstance(op, ForOp) and op.init)
    calls = [op.tool for op in loop.body.block.ops if isinstance(op, ToolCallOp)]
    assert calls == ["shop.open_category", "shop.add_to_basket"]  # rematerialized head
    assert loop.max_tabs == 4 and not loop.body.block.ops[0].hedgeable  # it writes
    assert observe(module, range(5)) == before


@pytest.mark.parametrize(
    "body",
    [
        # carried data that the page work reads: the next search depends on the last result
        "q = 'a'\n    for c in cats:\n        search(query=q)\n"
        "        q = list_products()[0].title\n    return 0",
        # reads the page the previous iteration navigated to
        "open_category(name='Books')\n    n = 0\n    for c in cats:\n"
        "        n = len(list_products())\n        open_category(name=c)\n    return n",
        # a non-commutative write
        "for c in cats:\n        open_category(name=c)\n"
        "        add_to_basket(title=list_products()[0].title)\n"
        "        checkout(email='a@b.c', name='A', address='x', city='y', postcode='z')\n"
        "    return 0",
    ],
    ids=["page-work-reads-carried-data", "reads-previous-page", "ordered-writes"],
)
def test_loops_whose_iterations_depend_on_each_other_stay_serial(body: str) -> None:
    source = f"use shop\n\ndef main(cats: list[str]) -> int:\n    {body}\n"
    module = compile_dsl(source)
    text = print_ir(module)
    parallelize(module)
    assert not any(isinstance(op, ForOp) and op.attributes.get("max_tabs") for op in module.walk())
    assert print_ir(module).replace(", tab = 0", "") == text.replace(", tab = 0", "")


def test_a_reduction_loop_is_split_and_its_page_work_parallelized() -> None:
    module = compile_dsl(REDUCTION)
    before = observe(module, range(5))
    path_before = critical_path(module.function("main"))
    parallelize(module)
    loops = [op for op in module.function("main").body.block.ops if isinstance(op, ForOp)]
    assert [loop.attributes.get("max_tabs") for loop in loops] == [4, None]
    assert not tab_calls_in(loops[1])  # the reduction keeps no page work
    assert (path_before, critical_path(module.function("main"))) == (16, 4)
    assert observe(module, range(5)) == before
    module = compile_dsl(REDUCTION)
    text = print_ir(module)
    assert print_ir(parallelize(module, "fission=false")) == text  # off: the loop stays


REDUCTION = """
    use shop

    def main(cats: list[str] = ["Books", "Games", "Toys"]) -> int:
        best = 0
        for c in cats:
            open_category(name=c)
            best = max(best, len(list_products()))
        return best
"""


def test_clone_copies_a_loop_exactly() -> None:
    module = compile_dsl(REDUCTION)
    text = print_ir(module)
    block = module.function("main").body.block
    loop = next(op for op in block.ops if isinstance(op, ForOp))
    copy = clone_op(loop, {})
    block.insert_before(copy, loop)
    for old, new in zip(loop.results, copy.results, strict=True):
        old.replace_all_uses_with(new)
    loop.erase()
    verify(module)
    assert print_ir(module) == text


def tab_calls_in(op) -> list:
    return [o for o in op.walk() if isinstance(o, ToolCallOp)]


STATEMENTS = """
    use shop

    def main(a: str = "Books", b: str = "Games", c: str = "Toys") -> int:
        open_category(name=a)
        x = len(list_products())
        open_category(name=b)
        y = len(list_products())
        search(query=c)
        z = len(list_products())
        return x + y + z
"""


def test_independent_statements_move_to_forked_tabs() -> None:
    module = compile_dsl(STATEMENTS)
    before = observe(module, range(5))
    parallelize(module)
    opened = [op.tab for op in module.walk() if isinstance(op, TabOpenOp)]
    assert opened == [1, 2]
    assert tabs_of(module) == {
        "open_category": {0, 1},
        "list_products": {0, 1, 2},
        "search": {2},
    }
    assert critical_path(module.function("main")) == 2
    assert observe(module, range(5)) == before


def test_max_tabs_bounds_the_tabs_and_one_turns_the_pass_off() -> None:
    module = parallelize(compile_dsl(STATEMENTS), "max_tabs=2")
    assert [op.tab for op in module.walk() if isinstance(op, TabOpenOp)] == [1]
    assert critical_path(module.function("main")) == 4  # tab 1 takes both moved runs
    module = compile_dsl(STATEMENTS)
    text = print_ir(module)
    assert print_ir(parallelize(module, "max_tabs=1")) == text


def test_runs_fork_after_a_login() -> None:
    module = compile_dsl(
        """
        use tracker

        def main(user: str = "u", password: str = "p") -> int:
            login(user=user, password=password)
            first = view_ticket(id=1)
            mine = query_tickets(owner=user)
            second = view_ticket(id=2)
            return len(mine) + len(first.comments) + len(second.comments)
        """
    )
    before = observe(module, range(5))
    parallelize(module)
    main = module.function("main").body.block.ops
    assert [type(op).__name__ for op in main[:3]] == ["ToolCallOp", "TabOpenOp", "TabOpenOp"]
    assert main[0].tool == "tracker.login"
    assert tabs_of(module) == {"login": {0}, "view_ticket": {0, 2}, "query_tickets": {1}}
    assert observe(module, range(5)) == before


def test_a_run_that_could_see_a_later_write_stays() -> None:
    module = compile_dsl(
        """
        use tracker

        def main(user: str = "u", password: str = "p") -> int:
            login(user=user, password=password)
            view_ticket(id=1)
            mine = query_tickets(owner=user)
            t = new_ticket(summary="s", description="d")
            return len(mine) + t
        """
    )
    parallelize(module)
    assert not any(isinstance(op, TabOpenOp) for op in module.walk())


def test_refuses_a_module_that_breaks_a_contract() -> None:
    module = compile_dsl("use shop\n\ndef main() -> int:\n    return len(list_products())\n")
    with pytest.raises(PassError) as info:
        PassManager.from_pipeline("parallelize").run(module)
    assert "requires page" in str(info.value)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_parallel_ir_round_trips_and_verifies(path: Path) -> None:
    module = compile_file(str(path)).module
    PassManager.from_pipeline("canonicalize,cse,dce,licm,parallelize").run(module)
    assert_round_trip(module)


def test_verifier_rejects_a_parallel_loop_whose_iterations_share_the_tab() -> None:
    module = compile_dsl(FANOUT)
    loop = next(op for op in module.walk() if isinstance(op, ForOp) and op.init)
    loop.attributes["max_tabs"] = 2
    with pytest.raises(VerifyError, match="only to open each iteration's own tab"):
        verify(module)


def test_verifier_rejects_a_call_tagged_with_the_wrong_tab() -> None:
    module = parallelize(compile_dsl(FANOUT))
    call = next(op for op in module.walk() if getattr(op, "tool", "") == "shop.product_details")
    call.attributes["tab"] = 3
    with pytest.raises(VerifyError, match="tagged tab 3, but its tab token belongs to tab 1"):
        verify(module)
