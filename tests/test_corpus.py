"""Corpus tests: every shipped example compiles and round-trips; every invalid program fails
with exactly its golden diagnostics.

    examples/*.agent                       valid programs: compile, verify, print/parse round trip,
                                           canonicalize, round trip again
    tests/programs/invalid/NAME.agent      one mistake each; NAME.expected holds the exact stderr
                                           of `agentjit check` run from the repository root

Regenerate the goldens after an intended change to a diagnostic:

    AGENTJIT_UPDATE_GOLDENS=1 python -m pytest tests/test_corpus.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agentjit import compile_file
from agentjit.cli import main
from agentjit.ir import verify
from agentjit.passes import PassContext, PassManager
from tests.helpers import assert_round_trip

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.agent"))
INVALID_DIR = ROOT / "tests" / "programs" / "invalid"
INVALID = sorted(INVALID_DIR.glob("*.agent"))
UPDATE_GOLDENS = os.environ.get("AGENTJIT_UPDATE_GOLDENS") == "1"
DIAGNOSTIC_KEYS = {"code", "severity", "span", "message", "hint"}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_corpus_sizes() -> None:
    assert len(EXAMPLES) >= 25, f"only {len(EXAMPLES)} examples"
    assert len(INVALID) >= 20, f"only {len(INVALID)} invalid programs"


# ---- valid programs -----------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_compiles_and_round_trips(path: Path) -> None:
    assert path.read_text(encoding="utf-8").startswith("#"), "start with a # task comment"
    compiled = compile_file(path)
    assert not compiled.warnings, compiled.warnings
    module = compiled.module
    verify(module)
    assert_round_trip(module)
    PassManager.from_pipeline("canonicalize,verify").run(module, PassContext())
    verify(module)
    assert_round_trip(module)


# ---- invalid programs ---------------------------------------------------------------------


def _check(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_program_diagnostics(
    path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    rel = _rel(path)
    code, err = _check(["check", rel], capsys)
    assert code == 1, f"{rel} was accepted"
    golden = path.with_suffix(".expected")
    if UPDATE_GOLDENS:
        golden.write_text(err, encoding="utf-8")
    else:
        assert golden.exists(), f"no golden for {rel}: run with AGENTJIT_UPDATE_GOLDENS=1"
        assert err == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_program_json(
    path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    rel = _rel(path)
    code, err = _check(["check", "--json", rel], capsys)
    assert code == 1
    body, summary = err.rstrip("\n").rsplit("\n", 1)
    assert summary.endswith(("error", "errors")), summary
    items = json.loads(body)
    assert isinstance(items, list) and items
    for item in items:
        assert item.keys() >= DIAGNOSTIC_KEYS, item
        assert item["severity"] in {"error", "warning", "note"}
        span = item["span"]
        assert span["file"] == rel and span["line"] >= 1 and span["col"] >= 1, span


def test_three_syntax_errors_all_reported(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code, err = _check(["check", _rel(INVALID_DIR / "three_syntax_errors.agent")], capsys)
    assert code == 1
    assert err.rstrip().endswith("3 errors")
    for line in (4, 7, 9):
        assert f"three_syntax_errors.agent:{line}:" in err
