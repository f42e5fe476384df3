"""One run of a compiled program, end to end: browser up, plan executed, trace and profile out.

    report = await run_module(module, backend="cdp", sites={"shop": app.url}, args={...},
                              trace="run.json", profile=ProfileStore("profile.db"))
    report.result, report.measured_s, report.predicted_s

The browser (and everything it started) is stopped when the run ends, whether it succeeded or
not. The tab pool's size is the schedule's choice (`schedule` attribute on the function), else
the widest parallel loop's `max_tabs`, else 1. Every op's latency, and the trips, branches and
list lengths the run saw, are appended to the profile store, where the next compile's cost model
finds them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentjit.backends.base import launch_backend
from agentjit.cost.profile import ProfileStore
from agentjit.ir import FuncOp, ModuleOp
from agentjit.ir.ops import ForOp, TabOpenOp
from agentjit.runtime.executor import Executor, LlmFn, RunSettings
from agentjit.runtime.llm import OpenAiLlm
from agentjit.runtime.site_page import SiteBinding
from agentjit.runtime.tabs import TabPool, TabToken
from agentjit.runtime.trace import Recorder
from agentjit.tools.registry import load_site


@dataclass
class RunReport:
    """What a run returned and how long it took, measured and predicted."""

    result: Any
    measured_s: float
    predicted_s: float | None
    recorder: Recorder
    backend: str
    tabs: int

    def summary(self) -> str:
        line = f"result: {self.result!r}\nmeasured: {self.measured_s:.3f} s on {self.backend}"
        if self.predicted_s:
            error = (self.measured_s - self.predicted_s) / self.predicted_s
            line += f"; predicted {self.predicted_s:.3f} s ({error:+.0%})"
        return line + f"; {len(self.recorder.slices)} ops, up to {self.tabs} extra tabs"


def _save(
    recorder: Recorder, trace: Path | str | None, gantt: Path | str | None, profile: Any
) -> None:
    """Write what the run measured, also when it failed: that is when a trace helps most."""
    if trace:
        recorder.write_chrome_trace(trace)
    if gantt:
        recorder.plot(gantt)
    if profile is not None:
        profile.append(recorder.samples())


def tab_limit(func: FuncOp) -> int:
    schedule = func.schedule or {}
    if schedule.get("tabs"):
        return int(schedule["tabs"])
    widths = [op.attributes.get("max_tabs") or 1 for op in func.walk() if isinstance(op, ForOp)]
    return max([1, *widths])


def bindings_for(module: ModuleOp, sites: dict[str, str]) -> dict[str, SiteBinding]:
    """Bind every site the module uses, to the URL `sites` gives for it (by the name the
    program uses or the site's own name), else to its default URL."""
    out: dict[str, SiteBinding] = {}
    for name in module.attributes.get("uses", []):
        site = load_site(name)
        if site is None:
            raise KeyError(f"no site called {name!r} is installed")
        out[site.name] = SiteBinding.of(site, sites.get(name) or sites.get(site.name))
    unknown = [name for name in sites if name not in out and load_site(name) is None]
    if unknown:
        raise KeyError(f"URLs given for sites the program does not use: {', '.join(unknown)}")
    return out


async def run_module(
    module: ModuleOp,
    *,
    backend: str = "cdp",
    function: str = "main",
    args: dict[str, Any] | None = None,
    sites: dict[str, str] | None = None,
    trace: Path | str | None = None,
    gantt: Path | str | None = None,
    profile: ProfileStore | None = None,
    settings: RunSettings | None = None,
    llm: LlmFn | None = None,
    backend_options: dict[str, Any] | None = None,
    timeout_s: float = 600.0,
) -> RunReport:
    """Run `function` of a compiled module on a fresh browser (see module doc)."""
    func = module.function(function)
    if func is None:
        raise KeyError(f"no function @{function} in the module")
    bindings = bindings_for(module, sites or {})
    recorder = Recorder(run_id=uuid.uuid4().hex[:12])
    tabs = tab_limit(func)
    llm = llm or OpenAiLlm.from_environment()
    async with launch_backend(backend, **(backend_options or {})) as browser:
        context = await browser.new_context()
        main = TabToken(await context.new_page(), 0)
        pool = TabPool(context, tabs)
        if any(isinstance(op, TabOpenOp) for op in func.walk()):
            # Setup, like launching the browser: a warm pool is what a long-lived agent keeps.
            await pool.warm(tabs)
        executor = Executor(main, pool, bindings, recorder, llm, settings or RunSettings())
        started = time.perf_counter()
        recorder.started = started
        try:
            result = await asyncio.wait_for(executor.run(module, function, args or {}), timeout_s)
        finally:
            measured = time.perf_counter() - started
            _save(recorder, trace, gantt, profile)
    predicted = (func.schedule or {}).get("mean")
    return RunReport(result, measured, predicted, recorder, backend, tabs)
