"""Rank candidate programs by predicted cost: the planner's choice among LLM-written plans.

    ranked = rank([m1, m2, m3], CostModel(store), objective="p95")
    ranked[0].index, ranked[0].best.strategy.label, ranked[0].best.p95

Each candidate (a module already through the passes, so parallelized) is flattened and
simulated under every strategy it allows; candidates are ordered by their best strategy's
score. All candidates and strategies share one seed, so the comparison is not sampling noise.
The same simulator ranks candidates and picks schedules: no hand-weighted counts.

With many candidates, ranking races them: every candidate and strategy first gets an eighth
of the samples, and only the most promising (candidate, strategy) pairs - as many as a quarter
of the candidates, at least `KEEP_MIN` - get the full count, by continuing those runs (the same
numbers as a full run from scratch). The winner is almost surely among those; the other pairs
keep their cheaper estimate, and rank after the refined ones.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from agentjit.cost.flatten import flatten
from agentjit.cost.model import CostModel
from agentjit.cost.plan import Choice, Strategy
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


KEEP_MIN = 4
"""Racing refines at least this many (candidate, strategy) pairs to the full sample count."""


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
    model = model or CostModel()
    plans = [flatten(module, model, llm_limit=llm_limit) for module in candidates]
    first = samples // 8 if race and len(plans) > KEEP_MIN else samples
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        # The kernel releases the GIL, so candidates simulate on all cores at once.
        runs = list(
            pool.map(lambda plan: choose_resumable(plan, objective, max(first, 1), seed), plans)
        )
        found = [
            Ranked(plans[i], predictions, objective, i, candidates[i])
            for i, (predictions, _) in enumerate(runs)
        ]
        if first == samples:
            return sorted(found, key=lambda r: (r.score, r.index))
        leaders = _leading_pairs(found, max(KEEP_MIN, len(found) // 4))
        refined = list(
            pool.map(lambda i: _refine(found[i], runs[i][1], samples, leaders[i]), leaders)
        )
    refined.sort(key=lambda r: (r.score, r.index))
    rest = sorted((r for r in found if r.index not in leaders), key=lambda r: (r.score, r.index))
    return refined + rest


def _leading_pairs(found: list[Ranked], keep: int) -> dict[int, set[Strategy]]:
    """The `keep` best (candidate, strategy) pairs of the first round, by candidate."""
    pairs = [(p.score(r.objective), r.index, p.strategy) for r in found for p in r.predictions]
    pairs.sort(key=lambda pair: (pair[0], pair[1]))
    leaders: dict[int, set[Strategy]] = {}
    for _, index, strategy in pairs[:keep]:
        leaders.setdefault(index, set()).add(strategy)
    return leaders


def _refine(ranked: Ranked, done: Resumable, samples: int, only: set[Strategy]) -> Ranked:
    """`ranked` with `samples` samples for the strategies `only` (its race run continued);
    they come first, its other strategies keep their first-round estimates after them."""
    refined = resume(done, ranked.objective, samples, only)
    others = [p for p in ranked.predictions if p.strategy not in only]
    return replace(ranked, predictions=refined + others)
