"""Benchmarks of the cost model: the Monte Carlo kernel and its references, flattening, the whole
compile -> passes -> schedule pipeline, and ranking candidate programs.

Run with `python -m pytest bench/test_bench_cost.py --benchmark-enable` (see bench/README.md).
Without `--benchmark-enable` each benchmark runs once, as a plain correctness test. Only
correctness is asserted here, never time; `bench/cost_ratios.py` prints the throughput figures
and ratios against the goals. The helpers below are shared with that script.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_bench_frontend import count_ops, generate_program

import agentjit
from agentjit.cost import reference
from agentjit.cost.flatten import flatten
from agentjit.cost.plan import FlatPlan, Strategy
from agentjit.cost.rank import Ranked, rank
from agentjit.cost.simulate import simulate
from agentjit.cost.synthetic import random_dag_plan
from agentjit.ir import ModuleOp
from agentjit.passes import PassContext, PassManager

ROOT = Path(__file__).resolve().parent.parent
PARALLEL = "canonicalize,check-contracts,cse,dce,licm,parallelize{max_tabs=4}"
PIPELINE = PARALLEL + ",schedule"
OPS_PER_GROUP = 41
"""About how many IR ops one `generate_program` group lowers to."""
NODES = 100
KERNEL_SAMPLES = 100_000
PYTHON_SAMPLES = 2_000
CANDIDATES = 32

FANOUT_TEMPLATE = (ROOT / "examples" / "shop_fanout_details.agent").read_text()


# --- helpers shared with cost_ratios.py ----------------------------------------------------


def groups_for(ops: int) -> int:
    """`generate_program` groups for about `ops` IR ops."""
    return max(1, round(ops / OPS_PER_GROUP))


def run_pipeline(source: str, pipeline: str = PIPELINE) -> tuple[ModuleOp, PassContext]:
    """DSL text -> IR -> the passes (by default through `schedule`)."""
    module = agentjit.compile_text(source, "<bench>").module
    ctx = PassContext()
    PassManager.from_pipeline(pipeline).run(module, ctx)
    return module, ctx


def parallelized_example(name: str = "shop_fanout_details") -> ModuleOp:
    source = (ROOT / "examples" / f"{name}.agent").read_text()
    return run_pipeline(source, PARALLEL)[0]


def fanout_source(pages: int) -> str:
    """The fan-out example reading the detail pages of the first `pages` products."""
    return FANOUT_TEMPLATE.replace("min(8, len(listed))", f"min({pages}, len(listed))")


def fanout_candidates(count: int = CANDIDATES) -> list[ModuleOp]:
    """`count` parallelized variants of the fan-out example, reading 1..count detail pages:
    candidate i does strictly more work than candidate i - 1."""
    assert "min(8, len(listed))" in FANOUT_TEMPLATE
    return [run_pipeline(fanout_source(k), PARALLEL)[0] for k in range(1, count + 1)]


def rank_all(candidates: list[ModuleOp]) -> list[Ranked]:
    return rank(candidates, objective="mean", samples=1000, seed=0)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dag() -> FlatPlan:
    return random_dag_plan(NODES, sigma=0.5, seed=1)


@pytest.fixture(scope="module")
def dag_mean(dag: FlatPlan) -> float:
    """The makespan's mean by the NumPy reference (exact draws), to check the others against."""
    return float(reference.simulate_numpy(dag, Strategy(1), 50_000, seed=99).mean())


# --- the simulator -------------------------------------------------------------------------


def test_kernel(benchmark, dag: FlatPlan, dag_mean: float) -> None:
    """The Numba kernel, one thread: 100k samples of a 100-node random DAG."""
    simulate(dag, samples=1000, threads=1)  # compile or load the cache outside the timing
    found = benchmark(simulate, dag, Strategy(1), KERNEL_SAMPLES, 0, 1)
    assert len(found.makespans) == KERNEL_SAMPLES
    assert found.mean == pytest.approx(dag_mean, rel=0.01)


def test_kernel_with_browser_slots(benchmark) -> None:
    """The kernel when every node takes one of 2 browser slots (the resource path)."""
    plan = random_dag_plan(NODES, sigma=0.5, seed=1, browser=True)
    simulate(plan, Strategy(2), samples=1000, threads=1)
    found = benchmark(simulate, plan, Strategy(2), KERNEL_SAMPLES, 0, 1)
    serial = simulate(plan, Strategy(1), 20_000, threads=1)
    assert found.mean < serial.mean
    assert np.isfinite(found.makespans).all()


def test_numpy_reference(benchmark, dag: FlatPlan, dag_mean: float) -> None:
    """The vectorised NumPy reference at the kernel's size."""
    found = benchmark.pedantic(
        reference.simulate_numpy, (dag, Strategy(1), KERNEL_SAMPLES, 0), rounds=3, iterations=1
    )
    assert found.mean() == pytest.approx(dag_mean, rel=0.01)


def test_python_reference(benchmark, dag: FlatPlan, dag_mean: float) -> None:
    """The plain-Python reference: 2k samples of the same DAG."""
    found = benchmark.pedantic(
        reference.simulate_python, (dag, Strategy(1), PYTHON_SAMPLES, 0), rounds=1, iterations=1
    )
    assert found.mean() == pytest.approx(dag_mean, rel=0.05)


# --- flattening, the pipeline, ranking -----------------------------------------------------


def test_flatten(benchmark) -> None:
    """IR -> FlatPlan of the parallelized fan-out example (a pool, hedged chains)."""
    module = parallelized_example()
    plan = benchmark(flatten, module)
    plan.check()
    assert plan.hedge_units > 0 and plan.max_tabs == 4
    assert plan.n_timed > 50


@pytest.mark.parametrize("ops", [100, 1_000, 10_000])
def test_pipeline(benchmark, ops: int) -> None:
    """compile_text -> canonicalize..parallelize -> schedule, on a generated program."""
    source = generate_program(groups_for(ops))
    rounds = {100: 20, 1_000: 5, 10_000: 1}[ops]
    lowered = count_ops(agentjit.compile_text(source, "<bench>").module)
    assert 0.7 * ops <= lowered <= 1.3 * ops
    run_pipeline(generate_program(1))  # pay the first-call costs outside the timing
    module, ctx = benchmark.pedantic(run_pipeline, (source,), rounds=rounds, iterations=1)
    assert count_ops(module) < lowered
    chosen = module.function("main").schedule
    assert chosen["strategy"] == ctx.options["schedule"].best.strategy.label
    assert chosen["samples"] == 1000 and chosen["mean"] > 0


def test_rank_candidates(benchmark) -> None:
    """Rank 32 parallelized candidates, each under every strategy it allows."""
    candidates = fanout_candidates()
    rank_all(candidates[:1])
    ranked = benchmark.pedantic(rank_all, (candidates,), rounds=5, iterations=1)
    assert sorted(r.index for r in ranked) == list(range(CANDIDATES))
    assert ranked[0].index == 0, "reading one detail page must be the cheapest"
    scores = [r.score for r in ranked]
    assert scores == sorted(scores)
    # More pages, more time: the order follows the page count up to sampling noise.
    order = np.array([r.index for r in ranked])
    assert np.corrcoef(order, np.arange(CANDIDATES))[0, 1] > 0.9
    assert all(len(r.predictions) == len(r.plan.strategies()) for r in ranked)
