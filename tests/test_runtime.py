"""The runtime on a real Chromium (both backends) with the test-only `pages` site: results equal
the reference interpreter's, a parallelized loop spreads over tabs with the same result, contract
breaks and bad navigation stop the run with located errors, and every run leaves a trace and
profile samples that move the next compile's prediction."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentjit import compile_text
from agentjit.cost.model import CostModel
from agentjit.cost.profile import ProfileStore
from agentjit.ir import ModuleOp
from agentjit.passes import PassContext, PassManager
from agentjit.runtime.contracts import RunError
from agentjit.runtime.executor import RunSettings
from agentjit.runtime.run import open_session, run_module
from tests.browser_fixtures import static_site  # noqa: F401
from tests.sites.slow_pages import SlowServer, serve_slow_pages

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

FANOUT = """use tests.sites.static_pages

def main(n: int = 6) -> list[str]:
    open_index()
    names = items()
    keys = [names[i % len(names)] + str(i) for i in range(n)]
    return [visit(key=k) for k in keys]
"""
PARALLEL = "canonicalize,check-contracts,cse,dce,licm,parallelize{max_tabs=4}"
EXPECTED = [f"?key={name}{i}" for i, name in enumerate(["alpha", "beta", "gamma"] * 2)]


def compiled(text: str, pipeline: str = "canonicalize", options: dict | None = None) -> ModuleOp:
    module = compile_text(text, "test.agent").module
    PassManager.from_pipeline(pipeline).run(module, PassContext(options=options or {}))
    return module


@pytest.mark.parametrize("backend", ["cdp", "selenium"])
async def test_serial_and_parallel_runs_agree(backend, static_site, tmp_path) -> None:  # noqa: F811
    serial = await run_module(compiled(FANOUT), backend=backend, sites={"pages": static_site})
    parallel = await run_module(
        compiled(FANOUT, PARALLEL),
        backend=backend,
        sites={"pages": static_site},
        trace=tmp_path / "trace.json",
    )
    assert serial.result == parallel.result == EXPECTED
    assert {s.row for s in serial.recorder.slices} == {0}
    assert {s.row for s in parallel.recorder.slices} == {0, 1, 2, 3, 4}
    events = json.loads((tmp_path / "trace.json").read_text())["traceEvents"]
    visits = [e for e in events if e.get("name") == "pages.visit"]
    assert len(visits) == 6 and all(e["ph"] == "X" and e["dur"] > 0 for e in visits)


async def test_a_broken_ensures_stops_the_run_at_the_call(static_site) -> None:  # noqa: F811
    text = "use tests.sites.static_pages\n\ndef main() -> None:\n    open_index()\n    lost()\n"
    with pytest.raises(RunError) as caught:
        await run_module(compiled(text), sites={"pages": static_site})
    diagnostic = caught.value.diagnostics[0]
    assert diagnostic.code == "contract-ensures"
    assert (diagnostic.loc.line, diagnostic.loc.col) == (5, 5)
    assert "pages.lost()" in diagnostic.message and "'index'" in diagnostic.message
    assert "second" in diagnostic.message


async def test_navigation_outside_the_site_is_refused(static_site) -> None:  # noqa: F811
    text = (
        "use tests.sites.static_pages\n\ndef main() -> None:\n"
        '    leave(url="http://127.0.0.2:9/elsewhere")\n'
    )
    with pytest.raises(RunError, match="may not navigate") as caught:
        await run_module(compiled(text), sites={"pages": static_site})
    assert caught.value.code == "tool-failed" and caught.value.diagnostics[0].loc.line == 4


async def test_a_failed_assert_is_located(static_site) -> None:  # noqa: F811
    text = (
        "use tests.sites.static_pages\n\ndef main() -> None:\n    open_index()\n"
        '    assert len(items()) > 5, "too few items"\n'
    )
    with pytest.raises(RunError, match="too few items") as caught:
        await run_module(compiled(text), sites={"pages": static_site})
    assert caught.value.code == "assertion" and caught.value.diagnostics[0].loc.line == 5


SIX_LOOKUPS = """use tests.sites.slow_pages

def main() -> list[str]:
    return [lookup(key=k) for k in ["a", "b", "c", "d", "e", "f"]]
"""


async def test_profile_moves_the_next_prediction_toward_the_measurement(tmp_path: Path) -> None:
    # Each page takes a second on its first load: a latency far from the prior, so the test
    # sees the profile's effect rather than the machine's noise (a few fast static pages did
    # not: one slow spell in a run could move the prediction either way).
    server = serve_slow_pages(slow_s=1.0)
    try:
        store = ProfileStore(tmp_path / "profile.db")
        pipeline = PARALLEL + ",schedule"
        first = compiled(SIX_LOOKUPS, pipeline, {"cost_model": CostModel(store)})
        report = await run_module(first, sites={"slow": server.url}, profile=store)
    finally:
        server.stop()
    assert store.keys("latency")  # the run's ops were recorded
    second = compiled(SIX_LOOKUPS, pipeline, {"cost_model": CostModel(store)})
    before = first.function("main").schedule["mean"]
    after = second.function("main").schedule["mean"]
    assert abs(after - report.measured_s) < abs(before - report.measured_s)


HEDGED = """use tests.sites.slow_pages

def main() -> list[str]:
    return [lookup(key=k) for k in ["a", "b", "c"]]
"""


@pytest.fixture
def slow_site() -> Iterator[SlowServer]:
    server = serve_slow_pages(slow_s=3.0)
    yield server
    server.stop()


@pytest.mark.parametrize("backend", ["cdp", "selenium"])
async def test_a_hedged_chain_keeps_the_first_copy_and_cancels_the_rest(
    backend: str, slow_site: SlowServer
) -> None:
    """Each lookup runs as 2 copies on 2 tabs; the server makes one copy slow, so the fast one
    must win, the slow one be cancelled, and its tab come back to the pool blanked."""
    module = compiled(HEDGED, "canonicalize,check-contracts,parallelize{max_tabs=2}")
    report = await run_module(
        module, backend=backend, sites={"slow": slow_site.url}, settings=RunSettings(hedge=2)
    )
    assert report.result == ["answer-a", "answer-b", "answer-c"]
    assert report.hedge == 2 and report.tabs_left_open == 0
    assert slow_site.requests == {"a": 2, "b": 2, "c": 2}  # both copies of each lookup started
    slices = report.recorder.slices
    races = [s for s in slices if s.name == "hedge"]
    assert len(races) == 3 and all(s.args["lost"] for s in races)
    for race in races:
        mine = [s for s in slices if s.args.get("hedge") == race.args["hedge"]]
        opened = [s for s in mine if s.name == "tab.open"]
        calls = [s for s in mine if s.name == "slow.lookup"]
        assert len(opened) == 2 and len({s.row for s in opened}) == 2  # two tabs
        assert [s.ok for s in calls].count(True) == 1
        assert [s.cancelled for s in calls].count(True) == 1
        assert [s.args["kept"] for s in mine if s.name == "tab.recycle"] == [True]
    samples = [s for s in report.recorder.samples() if s.key == "slow.lookup"]
    assert len(samples) == 3 and all(s.backend == backend for s in samples)
    assert asyncio.all_tasks() == {asyncio.current_task()}  # no copy left running


async def test_a_hedged_chain_survives_a_failing_copy_and_fails_when_all_do(
    slow_site: SlowServer,
) -> None:
    one = HEDGED.replace('["a", "b", "c"]', '["broken-once"]')
    module = compiled(one, "canonicalize,check-contracts,parallelize{max_tabs=2}")
    settings = RunSettings(hedge=2)
    report = await run_module(module, sites={"slow": slow_site.url}, settings=settings)
    assert report.result == ["answer-broken-once"] and report.tabs_left_open == 0
    calls = [s for s in report.recorder.slices if s.name == "slow.lookup"]
    assert sorted(s.ok for s in calls) == [False, True]
    failed = next(s for s in calls if not s.ok)  # the copies finish in either order
    assert "no answer" in failed.args["error"]
    every = HEDGED.replace('["a", "b", "c"]', '["broken"]')
    module = compiled(every, "canonicalize,check-contracts,parallelize{max_tabs=2}")
    with pytest.raises(RunError, match="no answer") as caught:
        await run_module(module, sites={"slow": slow_site.url}, settings=settings)
    assert caught.value.code == "tool-failed" and caught.value.diagnostics[0].loc.line == 4


async def test_runs_on_one_session_share_its_main_tab(static_site) -> None:  # noqa: F811
    head = "use tests.sites.static_pages\n\n"
    first = compiled(head + 'def main() -> str:\n    return visit(key="x")\n')
    second = compiled(head + "def main() -> list[str]:\n    return items()\n")
    async with open_session("cdp") as session:
        report = await run_module(first, session=session, sites={"pages": static_site})
        assert report.result == "?key=x" and report.backend == "cdp"
        assert await session.main.page.url() == static_site + "/second.html?key=x"
        await session.main.page.goto(static_site + "/index.html")
        again = await run_module(second, session=session, sites={"pages": static_site})
        assert again.result == ["alpha", "beta", "gamma"]  # read where the session's tab is
