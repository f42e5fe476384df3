"""Dependencies flow one way (DESIGN §2): ir imports nothing of ours, and so on up."""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).parent.parent / "agentjit"

ALLOWED = {
    "ir": {"ir"},
    "frontend": {"ir", "frontend"},
    "tools": {"ir", "tools", "sites"},  # the registry loads shipped sites by name
    "sites": {"ir", "tools", "sites"},
    "passes": {"ir", "tools", "cost", "passes"},
    "backends": {"ir", "tools", "backends", "processes"},
    "runtime": {"ir", "tools", "cost", "backends", "runtime", "processes"},
    "webapps": {"webapps", "processes"},
    "localllm": {"localllm", "processes", "webapps"},
    "planner": {"ir", "frontend", "tools", "passes", "cost", "planner", "localllm"},
    "agent": {"ir", "tools", "cost", "backends", "runtime", "planner", "agent", "passes"},
}


def _imports(path: pathlib.Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "agentjit" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    for path in (PACKAGE / layer).rglob("*.py"):
        bad = _imports(path) - ALLOWED[layer]
        assert not bad, f"{path.relative_to(PACKAGE)} imports agentjit.{sorted(bad)}"
