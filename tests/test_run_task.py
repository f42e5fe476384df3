"""`agentjit run "TASK"` on a real Chromium: plan, run, and re-plan from the observed page when a
run-time contract fails, continuing on the same tab. The model is `ScriptedClient` (a test
double); the pages are the static test pages."""

from __future__ import annotations

import pytest

from agentjit.agent.run_task import run_task
from agentjit.planner.plan import PlanSettings
from agentjit.runtime.contracts import RunError
from agentjit.tools import load_site
from tests.browser_fixtures import static_site  # noqa: F401
from tests.scripted_llm import ScriptedClient

SITE = load_site("tests.sites.static_pages")
SETTINGS = PlanSettings(k=1, rounds=0, grammar=False, samples=200)
# `lost` claims to open the second page but stays on the index: the run-time check catches it.
BROKEN = """```agent
use tests.sites.static_pages
def main() -> str:
    open_index()
    lost()
    return visit(key="a")
```"""
# Valid only from where the failed run left the tab: `items` needs the index page.
CONTINUE = """```agent
use tests.sites.static_pages
def main() -> list[str]:
    return items()
```"""


@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="module")
async def test_a_contract_failure_is_replanned_from_the_observed_page(static_site) -> None:  # noqa: F811
    client = ScriptedClient([BROKEN, CONTINUE])
    report = await run_task("read the items", SITE, client, base_url=static_site, settings=SETTINGS)
    assert report.result == ["alpha", "beta", "gamma"]
    assert [p.source for p in report.plans] == ["llm", "replan"]
    assert report.plans[1].module.function("main").start_state == {"pages": {"page": "index"}}
    replan_ask = client.sent[1][-1]["content"]
    assert "stopped early" in replan_ask and "contract-ensures" in replan_ask
    assert "page='index'" in replan_ask
    assert len(report.failures) == 1 and client.calls == 2


@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="module")
async def test_replans_are_bounded(static_site) -> None:  # noqa: F811
    client = ScriptedClient([], then=BROKEN)
    with pytest.raises(RunError) as caught:
        await run_task("x", SITE, client, base_url=static_site, settings=SETTINGS, max_replans=1)
    assert caught.value.code == "contract-ensures"
    assert client.calls == 2


def test_cli_task_needs_one_site(capsys) -> None:  # type: ignore[no-untyped-def]
    from agentjit.cli import main

    assert main(["run", "buy a cable", "--json"]) == 1
    assert '"code": "task-site"' in capsys.readouterr().err


def test_cli_dead_endpoint_is_a_clear_error(capsys) -> None:  # type: ignore[no-untyped-def]
    import socket

    from agentjit.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["run", "buy a cable", "--site", "shop", "--no-cache", "-k", "1"]
    assert main([*argv, "--base-url", f"http://127.0.0.1:{port}/v1"]) == 1
    err = capsys.readouterr().err
    assert f"the LLM endpoint http://127.0.0.1:{port}/v1 failed" in err
