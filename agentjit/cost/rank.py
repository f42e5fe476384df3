"""Rank candidate programs by predicted cost: the planner's choice among LLM-written plans.

    ranked = rank([m1, m2, m3], CostModel(store), objective="p95")
    ranked[0].index, ranked[0].best.strategy.label, ranked[0].best.p95

Each candidate (a module already through the passes, so parallelized) is flattened and
simulated under every strategy it allows; candidates are ordered by their best strategy's
score. All candidates and strategies share one seed, so the comparison is not sampling noise.
The same simulator ranks candidates and picks schedules: no hand-weighted counts.

With many candidates, ranking races them by successive rounds. Every (candidate, strategy)
pair first gets a small sample count; each round keeps the pairs that may still be the best
(their confidence interval reaches below the leader's), at most a quarter of them and at least
`KEEP_MIN`, and continues their runs with four times the samples (the same numbers as one run
of the larger count), until the survivors have the full count. A pair that drops out keeps the
estimate it had; candidates rank by how far their best pair got, then by score.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from agentjit.cost.flatten import flatten
from agentjit.cost.kernels import LANES
from agentjit.cost.model import CostModel
from agentjit.cost.plan import OBJECTIVES, Choice, Strategy
from agentjit.cost.simulate import Resumable, choose_resumable, resume
from agentjit.ir import ModuleOp


@dataclass(frozen=True)
class Ranked(Choice):
    """One candidate's predictions, best strategy first."""

    index: int = 0
    """The candidate's position in the input."""
    module: ModuleOp | None = None

    def row(self) -> dict[str, object]:
        """The numbers, for tables and JSON."""
        return {"candidate": self.index, **self.best.summary(), "objective": self.objective}


T = TypeVar("T")
R = TypeVar("R")

KEEP_MIN = 4
"""Racing keeps at least this many (candidate, strategy) pairs in every round."""
RACE_GROWTH = 4
"""Each round of the race runs this many times the samples of the last."""
RACE_FIRST_MIN = 16
"""The first round's samples per pair are at least this many."""
THREAD_MIN_WORK = 200_000
"""Node-samples per candidate from which simulating candidates on several threads pays."""
RACE_Z = 3.0
"""Confidence intervals are this many standard errors wide on each side."""


def rank(
    candidates: Sequence[ModuleOp],
    model: CostModel | None = None,
    objective: str = "mean",
    samples: int = 1000,
    seed: int = 0,
    *,
    llm_limit: int = 1,
    race: bool = True,
) -> list[Ranked]:
    """The candidates ordered by predicted cost (ties keep input order)."""
    if model is not None and not isinstance(model, CostModel):
        raise TypeError(f"model must be a CostModel or None, not {type(model).__name__}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    if samples < 1:
        raise ValueError(f"samples must be at least 1, not {samples}")
    model = model or CostModel()
    plans = [flatten(module, model, llm_limit=llm_limit) for module in candidates]
    rounds = race_rounds(samples) if race and len(plans) > KEEP_MIN else [samples]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        work = [rounds[0] * plan.n_nodes * len(plan.strategies()) for plan in plans]
        first = _map(
            pool, lambda plan: choose_resumable(plan, objective, rounds[0], seed), plans, work
        )
        found, runs = [], []
        for i, (predictions, done) in enumerate(first):
            found.append(Ranked(plans[i], predictions, objective, i, candidates[i]))
            runs.append(done)
        for count in rounds[1:]:
            _race_round(pool, found, runs, count)
    return sorted(found, key=lambda r: (-len(r.best.makespans), r.score, r.index))


def _race_round(
    pool: ThreadPoolExecutor, found: list[Ranked], runs: list[Resumable], samples: int
) -> None:
    """Continue the leading pairs of `found` to `samples` samples (in place)."""
    leaders = _leading_pairs(found)
    done = len(found[next(iter(leaders))].best.makespans)
    work = [(samples - done) * found[i].plan.n_nodes * len(leaders[i]) for i in leaders]
    advanced = _map(pool, lambda i: _advance(found[i], runs[i], samples, leaders[i]), leaders, work)
    for ranked in advanced:
        found[ranked.index] = ranked


def _map(
    pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], work: list[int]
) -> list[R]:
    """`fn` over `items`, on every core when the kernels have enough to do (node-samples per
    item, on average, from `work`): the kernel releases the GIL, but handing a small call to
    another thread costs more in GIL hand-offs than it saves."""
    if sum(work) < THREAD_MIN_WORK * len(work):
        return [fn(item) for item in items]
    return list(pool.map(fn, items))


def race_rounds(samples: int) -> list[int]:
    """The samples per pair after each round of the race, the last being `samples`."""
    rounds = [samples]
    while rounds[0] // RACE_GROWTH >= RACE_FIRST_MIN:
        rounds.insert(0, -(-rounds[0] // RACE_GROWTH // LANES) * LANES)
    return rounds


def _leading_pairs(found: list[Ranked]) -> dict[int, set[Strategy]]:
    """The pairs of the last round that stay in the race, by candidate: those that may be the
    best (interval below the leader's upper bound), at most a quarter, at least `KEEP_MIN`."""
    objective = found[0].objective
    depth = max(len(r.best.makespans) for r in found)
    pairs = [(r.index, p) for r in found for p in r.predictions if len(p.makespans) == depth]
    score, lo, hi = intervals(np.stack([p.makespans for _, p in pairs]), objective)
    order = np.lexsort((np.array([index for index, _ in pairs]), score))
    cap = max(KEEP_MIN, -(-len(pairs) // RACE_GROWTH))
    plausible = order[lo[order] <= hi.min()][:cap]
    kept = [*plausible, *(k for k in order[:KEEP_MIN] if k not in plausible)]
    leaders: dict[int, set[Strategy]] = {}
    for k in kept:
        index, prediction = pairs[k]
        leaders.setdefault(index, set()).add(prediction.strategy)
    return leaders


def intervals(samples: np.ndarray, objective: str) -> tuple[np.ndarray, ...]:
    """Per row of `samples` (a pair's makespans): its score and a confidence interval for it,
    the mean +- `RACE_Z` standard errors, or for a quantile the order statistics `RACE_Z`
    binomial deviations either side."""
    n = samples.shape[1]
    if objective == "mean":
        mean = samples.mean(axis=1)
        half = RACE_Z * samples.std(axis=1) / math.sqrt(n)
        return mean, mean - half, mean + half
    q = 0.5 if objective == "p50" else 0.95
    spread = RACE_Z * math.sqrt(n * q * (1 - q))
    ordered = np.sort(samples, axis=1)
    lo, hi = max(math.floor(n * q - spread), 0), min(math.ceil(n * q + spread), n - 1)
    return np.quantile(samples, q, axis=1), ordered[:, lo], ordered[:, hi]


def _advance(ranked: Ranked, done: Resumable, samples: int, only: set[Strategy]) -> Ranked:
    """`ranked` with its run continued to `samples` for the strategies `only`; predictions
    with the most samples first, each group best first."""
    advanced = {p.strategy: p for p in resume(done, ranked.objective, samples, only)}
    merged = [advanced.get(p.strategy, p) for p in ranked.predictions]
    merged.sort(key=lambda p: (-len(p.makespans), p.score(ranked.objective)))
    return replace(ranked, predictions=merged)
