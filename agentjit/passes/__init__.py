"""Compiler passes and the registry that names them.

Adding a pass: write `passes/my_pass.py` with a `Pass` subclass (name, options as dataclass
fields, a docstring saying what/when legal/what it preserves), then add one line below. Entries
import lazily, so an unused pass costs nothing at start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from agentjit.passes.base import Pass, PassContext
from agentjit.passes.manager import PassManager, PipelineError, parse_pipeline


def _lazy(module: str, cls: str) -> Callable[[], type[Pass]]:
    return lambda: getattr(importlib.import_module(f"agentjit.passes.{module}"), cls)


REGISTRY: dict[str, Callable[[], type[Pass]]] = {
    "verify": _lazy("verify", "VerifyPass"),
    "canonicalize": _lazy("canonicalize", "CanonicalizePass"),
    "check-contracts": _lazy("check_contracts", "CheckContractsPass"),
    "dce": _lazy("dce", "DeadCodePass"),
    "cse": _lazy("cse", "CommonSubexpressionPass"),
    "licm": _lazy("licm", "LoopInvariantMotionPass"),
    "parallelize": _lazy("parallelize", "ParallelizePass"),
    "schedule": _lazy("schedule", "SchedulePass"),
}


def pass_names() -> list[str]:
    return sorted(REGISTRY)


__all__ = [
    "REGISTRY",
    "Pass",
    "PassContext",
    "PassManager",
    "PipelineError",
    "parse_pipeline",
    "pass_names",
]
