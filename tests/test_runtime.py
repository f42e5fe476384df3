"""The runtime on a real Chromium (both backends) with the test-only `pages` site: results equal
the reference interpreter's, a parallelized loop spreads over tabs with the same result, contract
breaks and bad navigation stop the run with located errors, and every run leaves a trace and
profile samples that move the next compile's prediction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentjit import compile_text
from agentjit.cost.model import CostModel
from agentjit.cost.profile import ProfileStore
from agentjit.ir import ModuleOp
from agentjit.passes import PassContext, PassManager
from agentjit.runtime.contracts import RunError
from agentjit.runtime.run import run_module
from tests.browser_fixtures import static_site  # noqa: F401

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


async def test_profile_moves_the_next_prediction_toward_the_measurement(
    static_site,  # noqa: F811
    tmp_path: Path,
) -> None:
    store = ProfileStore(tmp_path / "profile.db")
    pipeline = PARALLEL + ",schedule"
    first = compiled(FANOUT, pipeline, {"cost_model": CostModel(store)})
    report = await run_module(first, sites={"pages": static_site}, profile=store)
    assert store.keys("latency")  # the run's ops were recorded
    second = compiled(FANOUT, pipeline, {"cost_model": CostModel(store)})
    before = first.function("main").schedule["mean"]
    after = second.function("main").schedule["mean"]
    assert abs(after - report.measured_s) < abs(before - report.measured_s)
