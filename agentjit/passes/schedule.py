"""The `schedule` pass: pick how to run the plan, by simulating every way of running it.

For the entry function (`main`, else the last one) it flattens the IR into a plan
(`agentjit.cost.flatten`), simulates it under every strategy the plan allows — serial (one tab
op at a time), parallel with w = 2..max_tabs tabs, and hedge-k when a tab is hedgeable — with
the same random numbers for all, and keeps the best under the objective. The choice and its
predicted makespan go into the function's `schedule` attribute, which the runtime reads:

    schedule = {"strategy": "parallel-4", "tabs": 4, "hedge": 1, "objective": "mean",
                "mean": 1.09, "p50": 1.04, "p95": 1.57, "samples": 1000}

Latencies come from `ctx.options["cost_model"]` (a `CostModel`, e.g. over the profile store)
or from the priors. The full result (plan and every strategy's prediction, best first) is left
in `ctx.options["schedule"]` for `--emit schedule` and `--plot`.

Legal on any verified module; changes nothing but the attribute, so it preserves behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentjit.cost.plan import OBJECTIVES, Choice
from agentjit.ir import ModuleOp
from agentjit.passes.base import Pass, PassContext


@dataclass(frozen=True)
class ScheduleResult(Choice):
    """What the pass computed: the flattened plan and every strategy's prediction, best first."""

    function: str = ""


@dataclass(frozen=True)
class SchedulePass(Pass):
    """Choose serial / parallel-w / hedge-k by simulated makespan (see the module docstring).

    Options: `objective` (mean, p50 or p95), `samples` (Monte Carlo samples per strategy),
    `seed`, and `llm_limit` (LLM calls the endpoint serves at once; a local server: 1).
    """

    name = "schedule"
    objective: str = "mean"
    samples: int = 1000
    seed: int = 0
    llm_limit: int = 1

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")
        if self.samples < 1:
            raise ValueError("samples must be at least 1")
        if self.llm_limit < 1:
            raise ValueError("llm_limit must be at least 1")

    def run(self, module: ModuleOp, ctx: PassContext) -> None:
        from agentjit.cost.flatten import entry_function, flatten
        from agentjit.cost.model import CostModel
        from agentjit.cost.simulate import choose

        if not module.functions:
            return
        func = entry_function(module)
        model = ctx.options.get("cost_model") or CostModel()
        plan = flatten(func, model, llm_limit=self.llm_limit)
        ranked = choose(plan, self.objective, self.samples, self.seed)
        ctx.options["schedule"] = ScheduleResult(plan, ranked, self.objective, func.sym_name)
        chosen = {**ranked[0].summary(), "objective": self.objective}
        if func.attributes.get("schedule") != chosen:
            func.attributes["schedule"] = chosen
            ctx.changed = True
