"""`agentjit run "TASK" --site SITE`: plan (cache or model), run, and re-plan when the page
disagrees with the plan.

    report = await run_task("Buy the cheapest cable", site, client, base_url=app.url)

The compiled plan runs on one browser session. When a run-time contract check fails (the UI is
not in the state the plan expected), the site's `observe` reads where the tab is, the same
planner is asked for a program that finishes the task from there (its contracts checked from
the observed state, not a fresh tab), and that program runs on the same tab and cookies. At most
`max_replans` times; other failures (a tool error, an assert) stop the run as before. A re-plan
is never stored in the plan cache: it answers one situation, not the task.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from agentjit.cost.model import CostModel
from agentjit.planner.cache import PlanCache
from agentjit.planner.compile_task import (
    NoValidPlan,
    PlannedTask,
    compile_task,
    schedule,
    why_none,
)
from agentjit.planner.endpoint import LlmClient
from agentjit.planner.plan import PlanSettings, Progress, plan_task
from agentjit.planner.prompt import Situation
from agentjit.runtime.contracts import RunError
from agentjit.runtime.executor import RunSettings
from agentjit.runtime.run import RunReport, open_session, run_module
from agentjit.runtime.site_page import SiteBinding, SitePage
from agentjit.tools.site import Site

REPLAN_CODES = frozenset({"contract-requires", "contract-ensures"})


@dataclass
class TaskReport:
    """Every plan the task needed and what the last one returned."""

    task: str
    plans: list[PlannedTask] = field(default_factory=list)
    runs: list[RunReport] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def result(self) -> Any:
        return self.runs[-1].result if self.runs else None

    @property
    def llm_calls(self) -> int:
        return sum(p.planning.llm_calls for p in self.plans if p.planning)

    def summary(self) -> str:
        sources = ", ".join(p.source for p in self.plans)
        lines = [
            f"result: {self.result!r}",
            f"task done in {self.seconds:.2f} s: {len(self.plans)} plan(s) ({sources}), "
            f"{self.llm_calls} model calls, run {sum(r.measured_s for r in self.runs):.2f} s",
        ]
        lines += [f"re-planned after: {f.splitlines()[0]}" for f in self.failures]
        return "\n".join(lines)


async def run_task(
    task: str,
    site: Site,
    client: LlmClient | None,
    *,
    backend: str = "cdp",
    base_url: str | None = None,
    settings: PlanSettings | None = None,
    run_settings: RunSettings | None = None,
    model_name: str = "",
    cache: PlanCache | None = None,
    cost_model: CostModel | None = None,
    max_replans: int = 2,
    trace: str | None = None,
    progress: Progress | None = None,
    timeout_s: float = 600.0,
) -> TaskReport:
    """Plan `task`, run it, re-plan on a contract failure (see module doc)."""
    started = time.perf_counter()
    settings = settings or PlanSettings()
    report = TaskReport(task)
    planned = await compile_task(
        task,
        site,
        client,
        settings,
        model_name=model_name,
        cache=cache,
        cost_model=cost_model,
        progress=progress,
    )
    report.plans.append(planned)
    sites = {site.name: base_url} if base_url else {}
    async with open_session(backend) as session:
        while True:
            try:
                run = await run_module(
                    planned.module,
                    session=session,
                    sites=sites,
                    trace=trace,
                    settings=run_settings,
                    timeout_s=timeout_s,
                )
                report.runs.append(run)
                break
            except RunError as failure:
                if failure.code not in REPLAN_CODES or len(report.failures) >= max_replans:
                    raise
                if client is None:
                    raise
                situation = await _situation(site, session.main.page, base_url, failure)
                report.failures.append(situation.failure)
                planned = await _replan(task, site, client, settings, situation, cost_model)
                report.plans.append(planned)
    report.seconds = time.perf_counter() - started
    return report


async def _situation(site: Site, page: Any, base_url: str | None, failure: RunError) -> Situation:
    observed: dict[str, Any] = {}
    if site.observer is not None:
        bound = SitePage(page, SiteBinding.of(site, base_url))
        observed = await site.observer(bound)
    shown = {k: v for k, v in observed.items() if v is not None}
    return Situation({site.name: shown}, failure.diagnostics[0].render())


async def _replan(
    task: str,
    site: Site,
    client: LlmClient,
    settings: PlanSettings,
    situation: Situation,
    cost_model: CostModel | None,
) -> PlannedTask:
    started = time.perf_counter()
    result = await plan_task(
        task, site, client, settings, cost_model=cost_model, situation=situation
    )
    winner = result.winner
    if winner is None or winner.module is None:
        raise NoValidPlan(why_none(result))
    schedule(winner.module, cost_model, settings)
    return PlannedTask(
        task, winner.program, winner.module, "replan", time.perf_counter() - started, result
    )
