"""The Numba simulator against its NumPy and plain-Python references (no browser needed).

Three kinds of check: exact makespans of tiny hand-made plans with constant durations (every
scheduling rule: chains, joins, browser slots, loop pools, guards, hedges); distribution
agreement on random DAGs and on flattened example programs (two-sample Kolmogorov-Smirnov
and means); and the accuracy of the kernel's quantile-table sampling against exact log-normal
draws. Sample counts are chosen to keep the file at a few seconds beyond Numba's compile.
"""

from __future__ import annotations

import dataclasses
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import agentjit
from agentjit.cost import reference
from agentjit.cost.distributions import lognormal
from agentjit.cost.flatten import flatten
from agentjit.cost.plan import IN_SPAN, JOIN_FIRST, FlatPlan, GuardKind, ResourceRole, Strategy
from agentjit.cost.simulate import (
    PARALLEL_MIN_SAMPLES,
    choose,
    choose_resumable,
    hedge_levels,
    kernel_plan,
    resume,
    simulate,
)
from agentjit.cost.synthetic import (
    BROWSER,
    PlanBuilder,
    chain_plan,
    fork_join_plan,
    random_dag_plan,
)
from agentjit.passes import PassContext, PassManager

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PIPELINE = "canonicalize,check-contracts,cse,dce,licm,parallelize{max_tabs=4}"
KS_C = 1.95
"""c(alpha) of the asymptotic two-sample KS test at alpha = 0.001."""
N_KS = 20_000
N_PY = 2_000
USE = (BROWSER, ResourceRole.USE, -1)

IF_PROGRAM = """use shop

def main(category: str = "Books") -> int:
    open_category(name=category)
    listed = list_products()
    n = min(6, len(listed))
    first = [listed[i] for i in range(n)]
    details = [product_details(title=p.title) for p in first]
    count = 0
    for d in details:
        if d.price > 10:
            count += 1
    if count > 2:
        add_to_basket(title=first[0].title)
    else:
        open_category(name="Sale")
        add_to_basket(title=first[1].title)
    return count
"""


# --- helpers -----------------------------------------------------------------------------


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov distance: the largest gap between the empirical CDFs."""
    a, b = np.sort(a), np.sort(b)
    points = np.concatenate((a, b))
    cdf_a = np.searchsorted(a, points, side="right") / len(a)
    cdf_b = np.searchsorted(b, points, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


def ks_critical(n: int, m: int) -> float:
    return KS_C * math.sqrt((n + m) / (n * m))


def assert_same_distribution(a: np.ndarray, b: np.ndarray, mean_rel: float) -> None:
    """KS does not reject at alpha = 0.001 and the means agree within `mean_rel` (or within
    four standard errors of their difference, for plans too noisy for `mean_rel` at this n)."""
    d, crit = ks_statistic(a, b), ks_critical(len(a), len(b))
    assert d < crit, f"KS distance {d:.4f} >= critical {crit:.4f}"
    se = math.sqrt(a.var() / len(a) + b.var() / len(b))
    gap = abs(a.mean() - b.mean())
    assert gap <= max(mean_rel * b.mean(), 4 * se), (a.mean(), b.mean(), se)


def all_simulators(plan: FlatPlan, strategy: Strategy) -> list[np.ndarray]:
    return [
        simulate(plan, strategy, samples=64, seed=1, threads=1).makespans,
        simulate(plan, strategy, samples=64, seed=2, threads=2).makespans,
        reference.simulate_numpy(plan, strategy, 16, seed=1),
        reference.simulate_python(plan, strategy, 4, seed=1),
    ]


def assert_exact(plan: FlatPlan, strategy: Strategy, expected: float) -> None:
    for makespans in all_simulators(plan, strategy):
        np.testing.assert_allclose(makespans, expected, rtol=1e-12)


@cache
def example_plan(name: str) -> FlatPlan:
    """An example program (or the `if` program) parallelized and flattened."""
    if name == "if_program":
        source, path = IF_PROGRAM, "<if_program>"
    else:
        file = EXAMPLES / f"{name}.agent"
        source, path = file.read_text(), str(file)
    module = agentjit.compile_text(source, path).module
    PassManager.from_pipeline(PIPELINE).run(module, PassContext())
    return flatten(module)


# --- exact makespans on hand-made plans ----------------------------------------------------


def test_chain_sums() -> None:
    assert_exact(chain_plan([1.0, 2.0, 3.5]), Strategy(1), 6.5)


def test_fork_join_takes_the_max() -> None:
    plan = fork_join_plan(1.0, [2.0, 5.0, 3.0], 0.5)
    for w in (1, 2, 4):
        assert_exact(plan, Strategy(w), 6.5)


@pytest.mark.parametrize(("tabs", "expected"), [(1, 4.0), (2, 2.0), (3, 2.0), (4, 1.0)])
def test_browser_slots_bound_concurrency(tabs: int, expected: float) -> None:
    plan = fork_join_plan(0.0, [1.0] * 4, 0.0, browser=True)
    assert_exact(plan, Strategy(tabs), expected)


def test_browser_chain_is_unaffected_by_tabs() -> None:
    plan = chain_plan([1.0, 2.0, 3.0], browser=True)
    assert_exact(plan, Strategy(1), 6.0)


def pool_plan(iterations: int, max_tabs: int) -> FlatPlan:
    """A parallel loop: each iteration opens a tab (acquiring a pool slot), works, closes it
    (releasing the slot): 1 + 2 + 1 seconds."""
    b = PlanBuilder()
    pool = b.pool(max_tabs)
    for _ in range(iterations):
        opened = b.node((), 1.0, holds=[(pool, ResourceRole.ACQUIRE, -1)])
        work = b.node([opened], 2.0)
        b.node([work], 1.0, holds=[(pool, ResourceRole.RELEASE, opened)])
    return b.build()


@pytest.mark.parametrize(("tabs", "expected"), [(1, 16.0), (2, 8.0), (4, 8.0)])
def test_loop_pool_holds_a_slot_from_open_to_close(tabs: int, expected: float) -> None:
    assert_exact(pool_plan(4, max_tabs=2), Strategy(tabs), expected)


def test_wide_loop_pool_runs_all_iterations_at_once() -> None:
    assert_exact(pool_plan(4, max_tabs=4), Strategy(4), 4.0)


def loop_plan(trips: float, unroll: int, second_cap: int) -> FlatPlan:
    """Two unrolled loops of 1-second iterations in a row: the first runs `trips` times (at
    most `unroll`), the second as often as the first but at most `second_cap`."""
    b = PlanBuilder()
    first = b.trips(trips, unroll)
    second = b.same_trips(first, second_cap)
    last: list[int] = []
    for event, n in ((first, unroll), (second, second_cap)):
        for i in range(n):
            last = [b.node(last, 1.0, guard=b.guard(GuardKind.ITERATION, event, i))]
    return b.build()


@pytest.mark.parametrize(
    ("trips", "unroll", "second_cap", "expected"),
    [(3, 5, 2, 5.0), (3, 5, 4, 6.0), (7, 5, 9, 10.0), (0, 5, 2, 0.0), (2.4, 5, 5, 4.0)],
)
def test_iteration_guards_run_the_trip_count(trips, unroll, second_cap, expected) -> None:
    assert_exact(loop_plan(trips, unroll, second_cap), Strategy(1), expected)


def branch_plan(prob: float) -> FlatPlan:
    """`if` with a coin of probability `prob`: 2 s then, 5 s else, then 1 s after both."""
    b = PlanBuilder()
    coin = b.coin(prob)
    head = b.node((), 1.0)
    then = b.node([head], 2.0, guard=b.guard(GuardKind.THEN, coin))
    other = b.node([head], 5.0, guard=b.guard(GuardKind.ELSE, coin))
    b.node([then, other], 1.0)
    return b.build()


@pytest.mark.parametrize(("prob", "expected"), [(1.0, 4.0), (0.0, 7.0)])
def test_branch_guards_follow_the_coin(prob: float, expected: float) -> None:
    assert_exact(branch_plan(prob), Strategy(1), expected)


def test_guards_nest() -> None:
    """A branch inside an unrolled loop runs only in the iterations that run."""
    b = PlanBuilder()
    trips, coin = b.trips(2, 4), b.coin(1.0)
    last: list[int] = []
    for i in range(4):
        it = b.guard(GuardKind.ITERATION, trips, i)
        then = b.guard(GuardKind.THEN, coin, parent=it)
        last = [b.node(last, 1.5, guard=then)]
    assert_exact(b.build(), Strategy(1), 3.0)


def hedge_plan(copies: list[float]) -> FlatPlan:
    """1 s, then a chain hedged as len(copies) copies (copy c takes copies[c]), the first
    running copy wins, then 1 s. Copies do not count toward the makespan themselves."""
    b = PlanBuilder(max_tabs=len(copies), hedge_units=1)
    head = b.node((), 1.0)
    ends = []
    for c, d in enumerate(copies):
        guard = -1 if c == 0 else b.guard(GuardKind.HEDGE_COPY, -1, c)
        ends.append(b.node([head], d, guard=guard, flags=0))
    join = b.node(ends, None, flags=JOIN_FIRST | IN_SPAN)
    b.node([join], 1.0)
    return b.build()


@pytest.mark.parametrize(("k", "expected"), [(1, 7.0), (2, 5.0), (3, 3.5), (4, 2.5)])
def test_hedge_join_takes_the_first_running_copy(k: int, expected: float) -> None:
    # Copies beyond k would finish at 1 s (their ready time) and must not win the join; the
    # losing copy 0 ends at 6 s and must not stretch the makespan.
    plan = hedge_plan([5.0, 3.0, 1.5, 0.5])
    assert Strategy(4, k) in plan.strategies()
    assert_exact(plan, Strategy(4, k), expected)


def test_a_skipped_node_after_an_uncounted_one() -> None:
    """A node that counts toward the makespan, guarded off, after one that does not count (a
    hedge copy): it did not run, so it does not count, in the kernel and the references."""
    b = PlanBuilder()
    coin = b.coin(0.0)
    uncounted = b.node((), 2.0, flags=0)
    b.node([uncounted], 1.0, guard=b.guard(GuardKind.THEN, coin))
    b.node((), 1.0)
    found = [float(m.max()) for m in all_simulators(b.build(), Strategy(1))]
    assert len(set(found)) == 1, found


def test_unused_resources_change_nothing() -> None:
    """Without resources every strategy gives the same samples (same seed, same draws)."""
    plan = random_dag_plan(40, seed=5)
    runs = [simulate(plan, Strategy(w), 500, seed=3, threads=1).makespans for w in (1, 2, 4)]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


# --- distribution agreement ----------------------------------------------------------------


DAG_CASES = [
    (sigma, browser, w)
    for sigma in (0.5, 1.0)
    for browser, ws in ((False, (1,)), (True, (1, 2, 4)))
    for w in ws
]


@pytest.mark.parametrize(("sigma", "browser", "tabs"), DAG_CASES)
def test_kernel_matches_numpy_on_random_dags(sigma: float, browser: bool, tabs: int) -> None:
    plan = random_dag_plan(80, sigma=sigma, browser=browser, seed=11)
    kernel = simulate(plan, Strategy(tabs), N_KS, seed=1, threads=1).makespans
    numpy = reference.simulate_numpy(plan, Strategy(tabs), N_KS, seed=2)
    assert_same_distribution(kernel, numpy, 0.015)


@pytest.mark.parametrize(
    "name",
    [
        "shop_fanout_details",
        "tracker_comment_blockers",
        "shop_overview",
        "if_program",
        "shop_compare_llm",
    ],
)
def test_kernel_matches_numpy_on_examples(name: str) -> None:
    plan = example_plan(name)
    assert plan.n_timed >= 5
    for strategy in plan.strategies():
        kernel = simulate(plan, strategy, N_KS, seed=1, threads=1).makespans
        numpy = reference.simulate_numpy(plan, strategy, N_KS, seed=2)
        assert_same_distribution(kernel, numpy, 0.015)


def test_examples_cover_every_plan_feature() -> None:
    """The example plans above exercise guards of every kind, pools, hedges and the LLM."""
    plans = [example_plan(n) for n in ("shop_fanout_details", "shop_overview", "if_program")]
    kinds = set().union(*(set(p.g_kind.tolist()) for p in plans))
    assert kinds == {int(k) for k in GuardKind}
    assert all(p.hedge_units > 0 and len(p.resource_kinds) > 2 for p in plans)
    assert any((p.res_id == 1).any() for p in plans), "no LLM call in the examples"


def python_cases() -> list:
    """Plans small enough for the pure-Python reference at 2k samples."""
    dag = random_dag_plan(40, sigma=0.5, seed=4)
    busy = random_dag_plan(12, sigma=1.0, seed=6, browser=True)
    mixed = mixed_plan()
    cases = [pytest.param(dag, Strategy(1), id="dag"), pytest.param(busy, Strategy(2), id="busy")]
    return cases + [pytest.param(mixed, s, id=f"mixed-{s.label}") for s in mixed.strategies()]


def mixed_plan() -> FlatPlan:
    """Log-normal nodes under every feature: a 2-tab pool over a loop of up to 3 iterations
    whose chains are hedged as 2 copies, a branch inside the loop, an LLM call at the end."""
    b = PlanBuilder(max_tabs=2, hedge_units=1)
    pool = b.pool(2, hedged=True)
    acquire = (pool, ResourceRole.ACQUIRE, -1)
    trips, coin = b.trips(lognormal(2.0, 0.5), 3), b.coin(0.3)
    head = b.node((), lognormal(0.25, 0.5), holds=[USE])
    ends = []
    for i in range(3):
        it = b.guard(GuardKind.ITERATION, trips, i)
        copy1 = b.guard(GuardKind.HEDGE_COPY, -1, 1, parent=it)
        first = b.node([head], lognormal(0.05, 0.5), guard=it, flags=0, holds=[acquire])
        work = [b.node([first], lognormal(0.3, 0.7), guard=it, flags=0, holds=[USE])]
        work.append(b.node([head], lognormal(0.35, 0.7), guard=copy1, flags=0, holds=[USE]))
        release = (pool, ResourceRole.RELEASE, first)
        join = b.node(work, None, guard=it, flags=JOIN_FIRST | IN_SPAN, holds=[release])
        extra = b.node([join], lognormal(0.1, 0.5), guard=b.guard(GuardKind.THEN, coin, 0, it))
        ends += [join, extra]
    b.node(ends, lognormal(1.0, 0.25), holds=[(1, ResourceRole.USE, -1)])
    return b.build()


@pytest.mark.parametrize(("plan", "strategy"), python_cases())
def test_kernel_matches_python(plan: FlatPlan, strategy: Strategy) -> None:
    kernel = simulate(plan, strategy, N_KS, seed=1, threads=1).makespans
    python = reference.simulate_python(plan, strategy, N_PY, seed=3)
    assert abs(kernel.mean() - python.mean()) <= 0.05 * python.mean()
    numpy = reference.simulate_numpy(plan, strategy, N_KS, seed=2)
    assert_same_distribution(kernel, numpy, 0.015)


# --- table sampling accuracy ---------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.25, 0.5, 1.0, 1.5])
def test_table_sampling_matches_the_lognormal(sigma: float) -> None:
    n = 200_000
    dist = lognormal(0.4, sigma)
    b = PlanBuilder()
    b.node((), dist)
    drawn = simulate(b.build(), samples=n, seed=7, threads=1).makespans
    exact_mean = math.exp(dist.mu + sigma**2 / 2)
    exact_sd = exact_mean * math.sqrt(math.expm1(sigma**2))
    assert abs(drawn.mean() - exact_mean) <= 3 * exact_sd / math.sqrt(n)
    exact = dist.sample(np.random.default_rng(8), n)
    assert ks_statistic(drawn, exact) < ks_critical(n, n)
    assert np.quantile(drawn, 0.95) == pytest.approx(dist.quantile(0.95), rel=0.015)


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_same_samples_different_seed_different() -> None:
    plan = example_plan("shop_fanout_details")
    strategy = plan.strategies()[-1]
    for threads in (1, 2):
        a = simulate(plan, strategy, 5000, seed=9, threads=threads).makespans
        b = simulate(plan, strategy, 5000, seed=9, threads=threads).makespans
        c = simulate(plan, strategy, 5000, seed=10, threads=threads).makespans
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_threads_give_the_same_distribution() -> None:
    plan = random_dag_plan(60, sigma=1.0, browser=True, seed=2)
    one = simulate(plan, Strategy(2), N_KS, seed=4, threads=1).makespans
    two = simulate(plan, Strategy(2), N_KS, seed=4, threads=2).makespans
    assert not np.array_equal(one, two)
    assert_same_distribution(one, two, 0.015)


@pytest.mark.parametrize("first", [1, 37, 125, PARALLEL_MIN_SAMPLES])
def test_a_resumed_run_gives_the_samples_of_one_longer_run(first: int) -> None:
    plan = example_plan("shop_fanout_details")
    short, done = choose_resumable(plan, "mean", first, seed=5)
    for a, b in zip(short, choose(plan, "mean", first, seed=5), strict=True):
        assert a.strategy == b.strategy
        np.testing.assert_array_equal(a.makespans, b.makespans)
    for samples in (first, 999, PARALLEL_MIN_SAMPLES):
        for a, b in zip(resume(done, "p95", samples), choose(plan, "p95", samples, 5), strict=True):
            assert a.strategy == b.strategy
            np.testing.assert_array_equal(a.makespans, b.makespans)


def test_resuming_some_strategies_then_all_gives_the_samples_of_one_run() -> None:
    plan = example_plan("shop_fanout_details")
    _, done = choose_resumable(plan, "mean", 16, seed=2)
    first = plan.strategies()[0]
    resume(done, "mean", 64, only={first})  # one run ahead of the others
    for a, b in zip(resume(done, "mean", 200), choose(plan, "mean", 200, 2), strict=True):
        assert a.strategy == b.strategy
        np.testing.assert_array_equal(a.makespans, b.makespans)


def test_skipping_hedge_copies_past_k_changes_no_sample() -> None:
    plan = example_plan("shop_fanout_details")
    assert hedge_levels(plan).max() >= 1  # the example has copies to skip
    visited = dataclasses.replace(plan, kernel_args=None)
    args = kernel_plan(plan)
    visited.kernel_args = (*args[:-1], np.zeros_like(args[-1]))  # every node, every sample
    for strategy in plan.strategies():
        np.testing.assert_array_equal(
            simulate(plan, strategy, 999, seed=3).makespans,
            simulate(visited, strategy, 999, seed=3).makespans,
        )
