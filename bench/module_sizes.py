"""Lines per module and the longest functions of the agentjit package (the size budgets).

    python bench/module_sizes.py            # table of files, over-budget functions flagged

Budgets (from the team's style guide): files <= 600 lines, functions <= 60 lines.
"""

from __future__ import annotations

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "agentjit"
FILE_BUDGET, FUNCTION_BUDGET = 600, 60


def function_lengths(tree: ast.AST) -> list[tuple[str, int]]:
    return [
        (node.name, (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def main() -> int:
    rows, over = [], []
    for path in sorted(ROOT.rglob("*.py")) + sorted(ROOT.rglob("*.lark")):
        text = path.read_text()
        lines = text.count("\n")
        rel = path.relative_to(ROOT.parent)
        longest = ("", 0)
        if path.suffix == ".py":
            fns = function_lengths(ast.parse(text))
            longest = max(fns, key=lambda f: f[1], default=("", 0))
            over += [f"{rel}:{name} ({n} lines)" for name, n in fns if n > FUNCTION_BUDGET]
        rows.append((str(rel), lines, longest))
        if lines > FILE_BUDGET:
            over.append(f"{rel} ({lines} lines)")
    width = max(len(r[0]) for r in rows)
    print(f"{'module':<{width}}  lines  longest function")
    for rel, lines, (name, n) in rows:
        longest = f"  {name} ({n})" if name else ""
        print(f"{rel:<{width}}  {lines:>5}{longest}")
    print(f"{'total':<{width}}  {sum(r[1] for r in rows):>5}")
    for row in over:
        print(f"over budget: {row}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
