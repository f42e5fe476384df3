"""Rank candidate programs by predicted cost: the planner's choice among LLM-written plans.

    ranked = rank([m1, m2, m3], CostModel(store), objective="p95")
    ranked[0].index, ranked[0].best.strategy.label, ranked[0].best.p95

Each candidate (a module already through the passes, so parallelized) is flattened and
simulated under every strategy it allows; candidates are ordered by their best strategy's
score. All candidates and strategies share one seed, so the comparison is not sampling noise.
The same simulator ranks candidates and picks schedules: no hand-weighted counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentjit.cost.flatten import flatten
from agentjit.cost.model import CostModel
from agentjit.cost.plan import FlatPlan
from agentjit.cost.simulate import Prediction, choose
from agentjit.ir import ModuleOp


@dataclass(frozen=True)
class Ranked:
    """One candidate's predictions, best strategy first."""

    index: int
    """The candidate's position in the input."""
    module: ModuleOp
    plan: FlatPlan
    predictions: list[Prediction]
    objective: str

    @property
    def best(self) -> Prediction:
        return self.predictions[0]

    @property
    def score(self) -> float:
        return self.best.score(self.objective)

    def row(self) -> dict[str, object]:
        """The numbers, for tables and JSON."""
        return {"candidate": self.index, **self.best.summary(), "objective": self.objective}


def rank(
    candidates: Sequence[ModuleOp],
    model: CostModel | None = None,
    objective: str = "mean",
    samples: int = 1000,
    seed: int = 0,
    *,
    llm_limit: int = 1,
) -> list[Ranked]:
    """The candidates ordered by predicted cost (ties keep input order)."""
    model = model or CostModel()
    found = []
    for index, module in enumerate(candidates):
        plan = flatten(module, model, llm_limit=llm_limit)
        predictions = choose(plan, objective, samples, seed)
        found.append(Ranked(index, module, plan, predictions, objective))
    return sorted(found, key=lambda r: (r.score, r.index))
