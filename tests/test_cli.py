"""The `agentjit` command: check, opt (IR and DOT), parse-ir, exit codes and JSON errors."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from agentjit.cli import main

ROOT = pathlib.Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "shop_cheapest.agent"


def test_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_check_reports_errors_as_json(tmp_path: pathlib.Path, capsys) -> None:
    bad = tmp_path / "bad.agent"
    bad.write_text("use shop\n\ndef main() -> str:\n    open_category(nme=1)\n    return y\n")
    assert main(["check", "--json", str(bad)]) == 1
    err = capsys.readouterr().err
    payload = json.loads(err[: err.rindex("]") + 1])
    codes = {d["code"] for d in payload}
    assert {"unknown-keyword", "undefined-name"} <= codes
    assert all(d["span"]["file"] == str(bad) and d["span"]["line"] >= 1 for d in payload)


def test_opt_prints_ir_that_parse_ir_reads_back(tmp_path: pathlib.Path, capsys) -> None:
    out = tmp_path / "out.ir"
    assert main(["opt", str(EXAMPLE), "-p", "canonicalize", "-o", str(out)]) == 0
    assert main(["parse-ir", str(out)]) == 0
    assert capsys.readouterr().out == out.read_text()
    assert main(["opt", str(out), "-p", "verify"]) == 0


def test_opt_emits_dot_with_token_edges(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["opt", str(EXAMPLE), "--emit", "dot"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph main {") and "firebrick" in dot and "dashed" in dot


def test_print_after_and_time_passes_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["opt", str(EXAMPLE), "-p", "canonicalize", "--print-after=all", "--time-passes"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "IR after canonicalize" in err and "pass execution timing" in err


def test_bad_pipeline_and_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["opt", str(EXAMPLE), "-p", "no-such-pass"]) == 1
    assert "unknown pass 'no-such-pass'" in capsys.readouterr().err
    assert main(["check", "does/not/exist.agent"]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_python_dash_m_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agentjit", "check", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "== 4. dataflow graph" in out
    assert "== 5. shop_fanout_details.agent parallelized and scheduled" in out
    assert "parallel-4" in out and "<- chosen" in out
