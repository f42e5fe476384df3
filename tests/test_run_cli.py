"""`agentjit run` end to end on a real Chromium: prints the result with predicted and measured
latency, writes the trace and Gantt chart, appends to the profile, and reports a run-time
contract failure as a located diagnostic (also as JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentjit.cli import main
from tests.browser_fixtures import static_site  # noqa: F401

pytestmark = pytest.mark.browser

PROGRAM = """use tests.sites.static_pages

def main(n: int = 3) -> list[str]:
    open_index()
    return [visit(key=str(i)) for i in range(n)]
"""


def test_run_prints_result_and_writes_trace_gantt_profile(
    static_site: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "fanout.agent"
    source.write_text(PROGRAM)
    argv = ["run", str(source), "--site", f"pages={static_site}", "--arg", "n=4"]
    argv += ["--trace", str(tmp_path / "t.json"), "--gantt", str(tmp_path / "g.png")]
    argv += ["--profile", str(tmp_path / "p.db")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "result: ['?key=0', '?key=1', '?key=2', '?key=3']" in out
    assert "measured:" in out and "predicted" in out
    assert json.loads((tmp_path / "t.json").read_text())["traceEvents"]
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")
    assert main(["profile", "show", "--db", str(tmp_path / "p.db")]) == 0
    assert "pages.visit" in capsys.readouterr().out


def test_run_reports_a_contract_failure_with_its_location(
    static_site: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "lost.agent"
    source.write_text("use tests.sites.static_pages\n\ndef main() -> None:\n    lost()\n")
    argv = ["run", str(source), "--site", f"pages={static_site}", "--json"]
    argv += ["--profile", str(tmp_path / "p.db")]
    assert main(argv) == 1
    (diagnostic,) = json.loads(capsys.readouterr().err.split("\n1 error")[0])
    assert diagnostic["code"] == "contract-ensures"
    assert diagnostic["span"]["line"] == 4 and diagnostic["span"]["file"].endswith("lost.agent")
