"""Differential tests: every optimizing pass keeps what a program does.

Each example runs on the site model (`agentjit.tools.model`: deterministic synthetic pages,
every contract checked on every tab) before and after a pipeline, for several seeds. The result
and the per-resource sequence of server writes must be equal; the optimized program must run
without a contract violation on any tab and still pass `check-contracts` statically. The trace
of reads may differ: removing, merging and hoisting reads is what the passes are for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentjit import compile_file
from agentjit.passes import PassManager
from tests.helpers import observe

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.agent"))
SEEDS = range(4)
PIPELINES = [
    "dce",
    "cse",
    "licm",
    "parallelize{max_tabs=4}",
    "canonicalize,check-contracts,cse,dce,licm,parallelize{max_tabs=4},check-contracts,schedule",
]


@pytest.mark.parametrize("pipeline", PIPELINES)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_pipeline_keeps_results_and_writes(path: Path, pipeline: str) -> None:
    module = compile_file(str(path)).module
    before = observe(module, SEEDS)
    PassManager.from_pipeline(pipeline).run(module)
    PassManager.from_pipeline("check-contracts").run(module)
    after = observe(module, SEEDS)
    assert after == before
