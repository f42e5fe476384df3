"""Predict a plan's makespan distribution under a strategy: the simulator's public face.

    plan = flatten(func, CostModel())
    best = choose(plan, objective="p95")          # every strategy, best first
    simulate(plan, Strategy(tabs=4)).p95

Samples run in the Numba kernels (`kernels.py`); the same seed gives the same numbers, and all
strategies of one plan are simulated with the same seed (common random numbers), so their
differences are not sampling noise.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from agentjit.cost import kernels
from agentjit.cost.plan import (
    JOIN_FIRST,
    OBJECTIVES,
    FlatPlan,
    GuardKind,
    ResourceRole,
    Strategy,
)

SERIAL = Strategy(1)
PARALLEL_MIN_SAMPLES = 20_000
"""Below this, one thread is faster than waking the pool."""


@dataclass(frozen=True)
class Prediction:
    """The simulated makespan distribution of one plan under one strategy (seconds)."""

    strategy: Strategy
    makespans: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.makespans.mean())

    @property
    def p50(self) -> float:
        return float(np.quantile(self.makespans, 0.5))

    @property
    def p95(self) -> float:
        return float(np.quantile(self.makespans, 0.95))

    def score(self, objective: str) -> float:
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
        return getattr(self, objective)

    def summary(self) -> dict[str, object]:
        """The numbers the schedule pass writes into the IR."""
        return {
            **self.strategy.to_attr(),
            "mean": round(self.mean, 6),
            "p50": round(self.p50, 6),
            "p95": round(self.p95, 6),
            "samples": len(self.makespans),
        }


def kernel_plan(plan: FlatPlan) -> tuple[np.ndarray, ...]:
    """The plan's arrays in the order the kernels unpack them (built once per plan)."""
    if plan.kernel_args is None:
        plan.kernel_args = _kernel_arrays(plan)
    return plan.kernel_args


def _kernel_arrays(plan: FlatPlan) -> tuple[np.ndarray, ...]:
    return (
        plan.pred_ptr,
        plan.pred_idx,
        plan.node_dist,
        plan.node_guard,
        node_modes(plan),
        plan.res_ptr,
        plan.res_id,
        plan.res_role,
        plan.res_partner,
        plan.g_parent,
        plan.g_kind,
        plan.g_event,
        plan.g_index,
        plan.ev_kind,
        plan.ev_dist,
        plan.ev_prob,
        plan.ev_cap,
        plan.ev_alias,
        hedge_levels(plan),
    )


def hedge_levels(plan: FlatPlan) -> np.ndarray:
    """Per node, the largest hedge k under which it never runs (a copy c of a hedged chain
    runs only when c < k; 0: it may run under any strategy). All 0 when a node that is not a
    hedge join reads one with a higher level: the kernel could not skip that one."""
    own = np.where(plan.g_kind == GuardKind.HEDGE_COPY, plan.g_index, 0).astype(np.int64)
    # A guard's level is the highest of its own and its ancestors'. Parents come first, so
    # each pass settles one more level of nesting.
    level = np.append(own, 0)  # the last entry stands for "no guard" (parent -1)
    while True:
        settled = np.append(np.maximum(own, level[plan.g_parent]), 0)
        if np.array_equal(settled, level):
            break
        level = settled
    nodes = level[plan.node_guard]
    readers = np.repeat(np.arange(plan.n_nodes), np.diff(plan.pred_ptr))
    joins = (plan.node_flags[readers] & JOIN_FIRST) != 0
    if np.any((nodes[readers] < nodes[plan.pred_idx]) & ~joins):
        return np.zeros(plan.n_nodes, dtype=np.int64)
    return nodes


def node_modes(plan: FlatPlan) -> np.ndarray:
    """The kernel's per-node mode bits: the plan's flags, plus guarded, holds resources, and
    holds exactly one (used, or a pool slot acquired or released)."""
    guarded = (plan.node_guard >= 0) * kernels.GUARDED
    counts = np.diff(plan.res_ptr)
    holds = (counts > 0) * kernels.HOLDS
    roles = np.append(plan.res_role, -1)  # a sentinel for nodes that hold nothing
    first_role = roles[plan.res_ptr[:-1]]
    one_use = ((counts == 1) & (first_role == ResourceRole.USE)) * kernels.ONE_USE
    one_hold = ((counts == 1) & (first_role != ResourceRole.USE)) * kernels.ONE_HOLD
    return (plan.node_flags | guarded | holds | one_use | one_hold).astype(np.int64)


def slot_offsets(plan: FlatPlan, strategy: Strategy) -> np.ndarray:
    """Where each resource's slots start in the kernel's flat slot array."""
    return slot_table(plan, [strategy])[0]


def slot_table(plan: FlatPlan, strategies: list[Strategy]) -> np.ndarray:
    """`slot_offsets` of each of `strategies`, a row each."""
    caps = plan.capacity_table(strategies)
    out = np.zeros((len(strategies), caps.shape[1] + 1), dtype=np.int64)
    np.cumsum(caps, axis=1, out=out[:, 1:])
    return out


def table_shift(tables: np.ndarray) -> np.uint64:
    k = tables.shape[1]
    if k < 2 or k & (k - 1):
        raise ValueError(f"tables need a power-of-two number of atoms per row, not {k}")
    return np.uint64(64 - (k.bit_length() - 1))


def simulate(
    plan: FlatPlan,
    strategy: Strategy = SERIAL,
    samples: int = 1000,
    seed: int = 0,
    threads: int | None = None,
) -> Prediction:
    """`samples` makespans of `plan` run under `strategy`."""
    if samples < 1:
        raise ValueError(f"samples must be at least 1, not {samples}")
    out = np.empty(samples)
    chunks = threads if threads is not None else _default_threads(samples)
    if chunks > 1:
        kernels.simulate_chunks(*_kernel_args(plan, strategy), abs(seed), out, chunks)
    else:
        _run(plan, strategy, kernels.seed_lanes(abs(seed)), out, 0)
    return Prediction(strategy, out)


def _kernel_args(plan: FlatPlan, strategy: Strategy) -> tuple[object, ...]:
    shift = table_shift(plan.tables)
    return kernel_plan(plan), slot_offsets(plan, strategy), plan.tables, shift, strategy.hedge


def _run(plan: FlatPlan, strategy: Strategy, xs: np.ndarray, out: np.ndarray, lo: int) -> None:
    """Samples `lo..` of `out` in one chunk, from (and advancing) the RNG states `xs`."""
    kernels.simulate_range(*_kernel_args(plan, strategy), xs, out, lo, len(out))


@dataclass(frozen=True)
class Resumable:
    """One-chunk runs of a plan's strategies that `resume` continues to more samples: the
    numbers a single run of the larger count gives (ranking's race refines its leaders so)."""

    plan: FlatPlan
    seed: int
    runs: dict[Strategy, tuple[np.ndarray, np.ndarray]]
    """Per strategy: the makespans so far (a multiple of the kernel's lanes) and RNG states."""


def choose_resumable(
    plan: FlatPlan, objective: str = "mean", samples: int = 1000, seed: int = 0
) -> tuple[list[Prediction], Resumable]:
    """`choose`, plus what `resume` needs to continue every strategy's run (nothing when the
    samples are many enough to run in parallel chunks)."""
    runs: dict[Strategy, tuple[np.ndarray, np.ndarray]] = {}
    if _default_threads(samples) > 1:
        return choose(plan, objective, samples, seed), Resumable(plan, seed, runs)
    strategies = plan.strategies()
    xs = np.tile(kernels.seed_lanes(abs(seed)), (len(strategies), 1))
    out = np.empty((len(strategies), -(-samples // kernels.LANES) * kernels.LANES))
    _run_all(plan, strategies, xs, out, 0)
    found = []
    for k, strategy in enumerate(strategies):
        runs[strategy] = (out[k], xs[k])
        found.append(Prediction(strategy, out[k, :samples].copy()))
    return best_first(found, objective), Resumable(plan, seed, runs)


def resume(
    done: Resumable, objective: str, samples: int, only: Collection[Strategy] | None = None
) -> list[Prediction]:
    """`choose(done.plan, objective, samples, done.seed)`, reusing the samples already run;
    with `only`, just those strategies. `done` keeps the longer runs, so the next `resume`
    starts where this one stopped."""
    if _default_threads(samples) > 1 or not done.runs:
        found = choose(done.plan, objective, samples, done.seed)
        return [p for p in found if only is None or p.strategy in only]
    chosen = [s for s in done.runs if only is None or s in only]
    short = [s for s in chosen if len(done.runs[s][0]) < samples]
    if short:
        _extend(done, short, samples)
    found = [Prediction(s, done.runs[s][0][:samples].copy()) for s in chosen]
    return best_first(found, objective)


def _extend(done: Resumable, strategies: list[Strategy], samples: int) -> None:
    """Continue the runs of `strategies` (all the same length so far) to `samples`."""
    heads = [done.runs[s][0] for s in strategies]
    lo = len(heads[0])
    if any(len(h) != lo for h in heads):
        for s in strategies:  # rare: runs of unequal length, one at a time
            _extend(done, [s], samples)
        return
    xs = np.stack([done.runs[s][1] for s in strategies])
    out = np.empty((len(strategies), max(-(-samples // kernels.LANES) * kernels.LANES, lo)))
    out[:, :lo] = np.stack(heads)
    _run_all(done.plan, strategies, xs, out, lo)
    for k, strategy in enumerate(strategies):
        done.runs[strategy] = (out[k], xs[k])


def _run_all(
    plan: FlatPlan, strategies: list[Strategy], xs: np.ndarray, out: np.ndarray, lo: int
) -> None:
    """Samples `lo..` of every row of `out`, row k under `strategies[k]` from (and advancing)
    the RNG states `xs[k]`: one kernel call for them all."""
    caps = slot_table(plan, strategies)
    hedges = np.array([s.hedge for s in strategies], dtype=np.int64)
    shift = table_shift(plan.tables)
    args = kernel_plan(plan), caps, plan.tables, shift, hedges, xs, out, lo, out.shape[1]
    kernels.simulate_strategies(*args)


def _default_threads(samples: int) -> int:
    if samples < PARALLEL_MIN_SAMPLES:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def evaluate(
    plan: FlatPlan,
    strategies: list[Strategy] | None = None,
    samples: int = 1000,
    seed: int = 0,
) -> list[Prediction]:
    """A prediction per strategy (default: every strategy the plan allows), same seed for all."""
    chosen = strategies if strategies is not None else plan.strategies()
    return [simulate(plan, s, samples, seed) for s in chosen]


def choose(
    plan: FlatPlan, objective: str = "mean", samples: int = 1000, seed: int = 0
) -> list[Prediction]:
    """Every strategy's prediction, best first under `objective` (ties: fewer tabs first)."""
    return best_first(evaluate(plan, None, samples, seed), objective)


def best_first(found: list[Prediction], objective: str) -> list[Prediction]:
    """Predictions ordered by `objective`, ties to fewer tabs, then to less hedging."""
    return sorted(found, key=lambda p: (p.score(objective), p.strategy.tabs, p.strategy.hedge))
