"""IR -> FlatPlan: what becomes a node, how loops unroll, where trip counts and latencies come
from (program text, profile store, priors), and that every example flattens to a valid plan
whose kernel prediction agrees with the NumPy reference."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from agentjit.cost.flatten import Flattener, entry_function, flatten
from agentjit.cost.model import CostModel
from agentjit.cost.plan import EventKind, GuardKind, ResourceKind, Strategy
from agentjit.cost.profile import ProfileStore, Sample
from agentjit.cost.reference import simulate_numpy
from agentjit.cost.simulate import simulate
from agentjit.passes import PassContext, PassManager
from tests.helpers import compile_dsl

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.agent"))
PIPELINE = "canonicalize,check-contracts,cse,dce,licm,parallelize{max_tabs=4}"


def optimized(source: str, pipeline: str = PIPELINE):
    module = compile_dsl(source)
    PassManager.from_pipeline(pipeline).run(module, PassContext())
    return module


@functools.cache
def optimized_example(path: Path):
    """An example through the pipeline, once per run (flattening does not change the IR)."""
    return optimized(path.read_text())


def labels(plan) -> list[str]:
    return [info.label for info in plan.info if info.label]


FIXED_LOOP = """
    use shop
    def main() -> int:
        n = 0
        for i in range(3):
            open_category(name="Books")
            n += len(list_products())
        return n
"""

BRANCHING = """
    use shop
    def main(q: str) -> int:
        if q == "":
            open_category(name="Books")
        else:
            search(query=q)
        return len(list_products())
"""

FANOUT = (ROOT / "examples" / "shop_fanout_details.agent").read_text()


def test_a_constant_range_unrolls_exactly_with_no_event() -> None:
    plan = flatten(optimized(FIXED_LOOP, "canonicalize"))
    assert labels(plan) == ["open_category", "list_products"] * 3
    assert len(plan.ev_kind) == 0 and len(plan.g_parent) == 0


def test_min_of_a_constant_and_a_list_length_caps_the_trip_count() -> None:
    plan = flatten(optimized(FANOUT))
    trips = [e for e in range(len(plan.ev_kind)) if plan.ev_kind[e] == EventKind.TRIPS]
    assert len(trips) == 1 and plan.ev_cap[trips[0]] == 8
    assert labels(plan).count("product_details") == 8 * plan.max_tabs  # 8 iterations x copies


def test_pure_loops_and_branches_are_not_unrolled() -> None:
    plan = flatten(compile_dsl((ROOT / "examples" / "pure_collections.agent").read_text()))
    assert plan.n_nodes == 0 and len(plan.g_parent) == 0
    assert simulate(plan, Strategy(1), 10).mean == 0.0


def test_a_branch_with_calls_gets_a_coin_and_two_guards() -> None:
    plan = flatten(optimized(BRANCHING))
    assert list(plan.ev_kind) == [EventKind.COIN] and plan.ev_prob[0] == pytest.approx(0.5)
    assert sorted(plan.g_kind) == [GuardKind.THEN, GuardKind.ELSE]
    assert labels(plan) == ["open_category", "search", "list_products"]


def test_a_parallel_loop_gets_a_tab_pool_and_the_browser_bounds_tabs() -> None:
    plan = flatten(optimized(FANOUT))
    kinds = list(plan.resource_kinds)
    assert kinds[:2] == [ResourceKind.BROWSER, ResourceKind.LLM]
    assert ResourceKind.LOOP_POOL in kinds
    assert plan.max_tabs == 4 and plan.hedge_units == 8
    serial = simulate(plan, Strategy(1), 2000).mean
    parallel = simulate(plan, Strategy(4), 2000).mean
    assert parallel < serial / 1.8


def test_two_llm_calls_share_the_endpoint_limit() -> None:
    source = """
        use shop
        def main(a: str, b: str) -> str:
            x = llm("Summarise {a}", a=a, temperature=0.7)
            y = llm("Summarise {b}", b=b, temperature=0.7)
            return x + y
    """
    module = optimized(source, "canonicalize")
    one = simulate(flatten(module, llm_limit=1), Strategy(1), 3000, seed=1).mean
    two = simulate(flatten(module, llm_limit=2), Strategy(1), 3000, seed=1).mean
    assert two < one * 0.8


def _store(tmp_path: Path, samples: list[Sample]) -> ProfileStore:
    store = ProfileStore(tmp_path / "profile.sqlite")
    store.append(samples)
    return store


def test_measured_latencies_move_the_prediction(tmp_path: Path) -> None:
    module = optimized(FIXED_LOOP, "canonicalize")
    prior = simulate(flatten(module), Strategy(1), 2000).mean
    slow = [Sample("latency", "shop.list_products", 2.0) for _ in range(100)]
    measured = flatten(module, CostModel(_store(tmp_path, slow)))
    assert simulate(measured, Strategy(1), 2000).mean > prior + 5.0


def test_measured_list_lengths_set_the_trip_count(tmp_path: Path) -> None:
    samples = [Sample("length", "shop.list_products", 2.0) for _ in range(60)]
    plan = flatten(optimized(FANOUT), CostModel(_store(tmp_path, samples)))
    trips = [e for e in range(len(plan.ev_kind)) if plan.ev_kind[e] == EventKind.TRIPS]
    assert plan.ev_cap[trips[0]] == 2
    assert labels(plan).count("product_details") == 2 * plan.max_tabs


def test_measured_branch_frequencies_set_the_coin(tmp_path: Path) -> None:
    module = optimized(BRANCHING)
    plain = flatten(module)
    branch = next(op for op in module.walk() if op.name == "ctl.if")
    key = f"main@{Path(branch.loc.file).name}:{branch.loc.line}:{branch.loc.col}"
    taken = [Sample("branch", key, 1.0) for _ in range(98)]
    plan = flatten(module, CostModel(_store(tmp_path, taken)))
    assert plain.ev_prob[0] == pytest.approx(0.5)
    assert plan.ev_prob[0] == pytest.approx(99 / 100)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_flattens_and_the_kernel_agrees_with_numpy(path: Path) -> None:
    module = optimized_example(path)
    plan = flatten(module)
    plan.check()
    for strategy in plan.strategies()[:: max(1, len(plan.strategies()) // 2)]:
        kernel = simulate(plan, strategy, 4000, seed=3).makespans
        reference = simulate_numpy(plan, strategy, 4000, seed=4)
        scale = max(reference.std() / np.sqrt(4000), 1e-9)
        assert abs(kernel.mean() - reference.mean()) < 5 * scale * np.sqrt(2) + 1e-9


def test_a_chain_whose_results_feed_an_llm_before_its_close_is_not_hedged() -> None:
    """The LLM call reads the forked tab's results before the tab's close, where a hedge's
    join would be: the chain is simulated as one copy, and the call waits for it."""
    module = optimized(
        """
        use shop
        def main(first: str, second: str) -> str:
            search(query=first)
            first_hits = [p for p in list_products() if p.title == first]
            search(query=second)
            second_hits = [p for p in list_products() if p.title == second]
            if len(first_hits) == 0 or len(second_hits) == 0:
                return "missing"
            return llm("Compare {a} and {b}", a=first_hits[0].title, b=second_hits[0].title)
        """
    )
    plan = flatten(module)
    assert plan.hedge_units == 0 and labels(plan).count("llm") == 1
    llm = labels(plan).index("llm")
    preds = plan.pred_idx[plan.pred_ptr[llm] : plan.pred_ptr[llm + 1]]
    assert sorted(plan.info[p].lane for p in preds) == ["tab 0", "tab 1"]


def _walked_and_templated(module):
    plans = []
    for templates in (False, True):
        flattener = Flattener(CostModel(), llm_limit=1, table_size=1024, max_unroll=32, hedge=4)
        flattener.use_templates = templates
        plans.append(flattener.run(entry_function(module)))
    return plans


NESTED_LOOPS = """
use shop

def main(category: str = "Books") -> int:
    open_category(name=category)
    listed = list_products()
    found = [product_details(title=listed[i].title) for i in range(min(6, len(listed)))]
    count = 0
    for d in found:
        if d.in_stock:
            again = [product_details(title=listed[k].title) for k in range(3)]
            count += len(again)
    return count
"""


@pytest.mark.parametrize("path", [*EXAMPLES, None], ids=lambda p: p.stem if p else "nested")
def test_iteration_templates_give_exactly_the_walked_plan(path: Path | None) -> None:
    module = optimized_example(path) if path else optimized(NESTED_LOOPS)
    walked, templated = _walked_and_templated(module)
    for name, value in vars(walked).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, getattr(templated, name), err_msg=name)
    assert [(i.label, i.lane) for i in walked.info] == [(i.label, i.lane) for i in templated.info]
    assert walked.hedge_units == templated.hedge_units
