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
from dataclasses import dataclass

import numpy as np

from agentjit.cost import kernels
from agentjit.cost.plan import OBJECTIVES, FlatPlan, ResourceRole, Strategy

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
    )


def node_modes(plan: FlatPlan) -> np.ndarray:
    """The kernel's per-node mode bits: the plan's flags, plus guarded and holds-resources."""
    guarded = (plan.node_guard >= 0) * kernels.GUARDED
    counts = np.diff(plan.res_ptr)
    holds = (counts > 0) * kernels.HOLDS
    roles = np.append(plan.res_role, -1)  # a sentinel for nodes that hold nothing
    first_role = roles[plan.res_ptr[:-1]]
    one_use = ((counts == 1) & (first_role == ResourceRole.USE)) * kernels.ONE_USE
    return (plan.node_flags | guarded | holds | one_use).astype(np.int64)


def slot_offsets(plan: FlatPlan, strategy: Strategy) -> np.ndarray:
    """Where each resource's slots start in the kernel's flat slot array."""
    caps = plan.capacities(strategy)
    out = np.zeros(len(caps) + 1, dtype=np.int64)
    np.cumsum(caps, out=out[1:])
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
    args = (
        kernel_plan(plan),
        slot_offsets(plan, strategy),
        plan.tables,
        table_shift(plan.tables),
        strategy.hedge,
        abs(seed),
        out,
    )
    chunks = threads if threads is not None else _default_threads(samples)
    if chunks > 1:
        kernels.simulate_chunks(*args, chunks)
    else:
        kernels.simulate_range(*args, 0, samples)
    return Prediction(strategy, out)


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
    found = evaluate(plan, None, samples, seed)
    return sorted(found, key=lambda p: (p.score(objective), p.strategy.tabs, p.strategy.hedge))
