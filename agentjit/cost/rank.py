"""Rank candidate programs by predicted cost: the planner's choice among LLM-written plans.

    ranked = rank([m1, m2, m3], CostModel(store), objective="p95")
    ranked[0].index, ranked[0].best.strategy.label, ranked[0].best.p95

Each candidate (a module already through the passes, so parallelized) is flattened and
simulated under every strategy it allows; candidates are ordered by their best strategy's
score. All candidates and strategies share one seed, so the comparison is not sampling noise.
The same simulator ranks candidates and picks schedules: no hand-weighted counts.

With many candidates, ranking races them: every candidate and strategy first gets an eighth
of the samples, and only the most promising quarter (at least `KEEP_MIN`) gets the full count,
by continuing those runs (the same numbers as a full run from scratch). The winner is almost
surely among those; the others keep their cheaper estimate.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from agentjit.cost.flatten import flatten
from agentjit.cost.model import CostModel
from agentjit.cost.plan import Choice
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
"""Racing keeps at least this many candidates for the full sample count."""


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
        found.sort(key=lambda r: (r.score, r.index))
        if first == samples:
            return found
        keep = max(KEEP_MIN, len(found) // 4)
        refined = list(pool.map(lambda r: _refine(r, runs[r.index][1], samples), found[:keep]))
    refined.sort(key=lambda r: (r.score, r.index))
    return refined + found[keep:]


def _refine(ranked: Ranked, done: Resumable, samples: int) -> Ranked:
    """`ranked` with `samples` samples per strategy: its race run continued."""
    return replace(ranked, predictions=resume(done, ranked.objective, samples))
