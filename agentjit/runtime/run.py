"""One run of a compiled program, end to end: browser up, plan executed, trace and profile out.

    report = await run_module(module, backend="cdp", sites={"shop": app.url}, args={...},
                              trace="run.json", profile=ProfileStore("profile.db"))
    report.result, report.measured_s, report.predicted_s

The browser (and everything it started) is stopped when the run ends, whether it succeeded or
not; to run several programs on one browser, main tab and cookie jar, open a `Session` with
`open_session` and pass it to each run. The tab pool's size is the schedule's choice (`schedule`
attribute on the function), else the widest parallel loop's `max_tabs`, else 1; so is the
number of copies of a hedgeable chain (`hedge`, default 1). Every op's latency (tagged with the
backend that measured it), and the trips, branches and list lengths the run saw, are appended
to the profile store, where the next compile's cost model finds them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentjit.backends.base import BrowserContext, launch_backend
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
    hedge: int = 1
    tabs_left_open: int = 0
    """Pool pages not given back when the run ended (0 unless something leaked)."""

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


def hedge_copies(func: FuncOp, settings: RunSettings) -> int:
    if settings.hedge is not None:
        return max(1, settings.hedge)
    return max(1, int((func.schedule or {}).get("hedge") or 1))


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


@dataclass
class Session:
    """A browser, one context (one cookie jar) and its main tab, kept across runs: a program
    run after another (a re-plan, say) continues on the same page and cookies."""

    backend: str
    browser: Any
    context: BrowserContext
    main: TabToken


@asynccontextmanager
async def open_session(backend: str = "cdp", **options: Any) -> AsyncIterator[Session]:
    """Launch a browser of `backend` for several runs; it is stopped when the block ends."""
    async with launch_backend(backend, **options) as browser:
        context = await browser.new_context()
        yield Session(backend, browser, context, TabToken(await context.new_page(), 0))


async def run_module(
    module: ModuleOp,
    *,
    backend: str = "cdp",
    session: Session | None = None,
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
    """Run `function` of a compiled module on `session`, else on a fresh browser of `backend`
    (see module doc)."""
    if session is None:
        async with open_session(backend, **(backend_options or {})) as own:
            return await run_module(
                module,
                session=own,
                function=function,
                args=args,
                sites=sites,
                trace=trace,
                gantt=gantt,
                profile=profile,
                settings=settings,
                llm=llm,
                timeout_s=timeout_s,
            )
    func = module.function(function)
    if func is None:
        raise KeyError(f"no function @{function} in the module")
    bindings = bindings_for(module, sites or {})
    recorder = Recorder(run_id=uuid.uuid4().hex[:12], backend=session.backend)
    settings = settings or RunSettings()
    tabs = tab_limit(func)
    hedge = min(hedge_copies(func, settings), tabs)
    pool = TabPool(session.context, tabs)
    if any(isinstance(op, TabOpenOp) for op in func.walk()):
        # Setup, like launching the browser: a warm pool is what a long-lived agent keeps.
        await pool.warm(tabs)
    llm = llm or OpenAiLlm.from_environment()
    executor = Executor(session.main, pool, bindings, recorder, llm, settings, hedge=hedge)
    started = time.perf_counter()
    recorder.started = started
    try:
        result = await asyncio.wait_for(executor.run(module, function, args or {}), timeout_s)
    finally:
        measured = time.perf_counter() - started
        _save(recorder, trace, gantt, profile)
    predicted = (func.schedule or {}).get("mean")
    left = len(pool.busy)
    return RunReport(result, measured, predicted, recorder, session.backend, tabs, hedge, left)
