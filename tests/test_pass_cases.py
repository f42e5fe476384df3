"""Text tests for passes: IR in -> pipeline -> IR out, one file per case.

    tests/pass_cases/PASS/NAME.ir

A case file starts with `// RUN: PIPELINE`, then the input IR, then a line `// EXPECT:` and the
exact IR the pipeline must print. Besides the text, each case checks that the output verifies
and, when the input runs on the site model without arguments, that the result and the server
writes are unchanged. Regenerate the expected halves after an intended change with

    AGENTJIT_UPDATE_GOLDENS=1 python -m pytest tests/test_pass_cases.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentjit.ir import parse_ir, print_ir, verify
from agentjit.passes import PassManager
from tests.helpers import observe

CASES = sorted((Path(__file__).parent / "pass_cases").glob("*/*.ir"))
UPDATE_GOLDENS = os.environ.get("AGENTJIT_UPDATE_GOLDENS") == "1"
RUN, EXPECT = "// RUN:", "// EXPECT:\n"


def split_case(text: str) -> tuple[str, str, str]:
    """(pipeline, input IR, expected IR) of a case file."""
    first, _, rest = text.partition("\n")
    if not first.startswith(RUN):
        raise ValueError(f"a case starts with '{RUN} PIPELINE'")
    source, _, expected = rest.partition(EXPECT)
    return first[len(RUN) :].strip(), source, expected


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_pass_case(path: Path) -> None:
    pipeline, source, expected = split_case(path.read_text())
    module = parse_ir(source, str(path))
    before = observe(module, range(3))
    PassManager.from_pipeline(pipeline).run(module)
    verify(module)
    out = print_ir(module)
    if UPDATE_GOLDENS:
        path.write_text(f"{RUN} {pipeline}\n{source}{EXPECT}{out}")
        return
    assert out == expected
    assert observe(module, range(3)) == before
