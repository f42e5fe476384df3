"""From a task sentence to a scheduled module: the plan cache first, the model on a miss.

    planned = await compile_task("Buy the cheapest cable", site, client_or_none, settings)
    planned.module        # optimized and scheduled, ready for `run_module`
    planned.source        # "cache" or "llm"

A hit is instantiated with this task's parameters and compiled like any program (no model
call); a miss plans with `plan_task`, and the winner is stored. Either way the module goes
through `schedule` with the cost model, so the runtime gets the chosen strategy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from agentjit.cost.model import CostModel
from agentjit.ir import CompilerError, Diagnostic, ModuleOp, error
from agentjit.passes import PassContext, PassManager
from agentjit.planner.cache import PlanCache
from agentjit.planner.check import check_program
from agentjit.planner.endpoint import LlmClient
from agentjit.planner.plan import PlanResult, PlanSettings, Progress, plan_task
from agentjit.tools.site import Site


class NoValidPlan(CompilerError):
    """Every candidate was still invalid after its repair rounds."""


@dataclass
class PlannedTask:
    """A compiled plan for a task and how it was obtained."""

    task: str
    program: str
    module: ModuleOp
    source: str
    compile_s: float
    planning: PlanResult | None = None


async def compile_task(
    task: str,
    site: Site,
    client: LlmClient | None,
    settings: PlanSettings | None = None,
    *,
    model_name: str = "",
    cache: PlanCache | None = None,
    cost_model: CostModel | None = None,
    progress: Progress | None = None,
) -> PlannedTask:
    """The scheduled module for `task` on `site` (see module doc)."""
    settings = settings or PlanSettings()
    started = time.perf_counter()
    cached = cache.lookup(task, site.name, site.version, model_name) if cache else None
    if cached is not None:
        checked = check_program(cached, site.name, "cached.agent", settings.max_tabs)
        if checked.module is not None:
            schedule(checked.module, cost_model, settings)
            return PlannedTask(task, cached, checked.module, "cache", time.perf_counter() - started)
        if cache:
            cache.forget(task, site.name, site.version, model_name)
    if client is None:
        raise NoValidPlan(error("no-endpoint", f"no cached plan for {task!r} and no LLM to ask"))
    result = await plan_task(task, site, client, settings, cost_model=cost_model, progress=progress)
    winner = result.winner
    if winner is None or winner.module is None:
        raise NoValidPlan(why_none(result))
    if cache:
        cache.store(task, site.name, site.version, model_name, winner.program)
    schedule(winner.module, cost_model, settings)
    return PlannedTask(
        task, winner.program, winner.module, "llm", time.perf_counter() - started, result
    )


def schedule(module: ModuleOp, model: CostModel | None, settings: PlanSettings) -> None:
    ctx = PassContext(options={"cost_model": model or CostModel()})
    pipeline = f"schedule{{objective={settings.objective},samples={settings.samples}}}"
    PassManager.from_pipeline(pipeline).run(module, ctx)


def why_none(result: PlanResult) -> list[Diagnostic]:
    """The last diagnostics of the candidate that got furthest, prefixed by a summary."""
    counts = result.counts()
    head = error(
        "no-valid-plan",
        f"none of {counts['candidates']} candidates compiled after "
        f"{counts['llm_calls']} model calls",
        hint="try more candidates (-k), more repair rounds, or a stronger model",
    )
    tails = [c.final.diagnostics for c in result.candidates if c.final and c.final.diagnostics]
    return [head, *(tails[0][:3] if tails else [])]
