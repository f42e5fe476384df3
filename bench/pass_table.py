"""Print what the optimizing passes do to each example program, as a Markdown table.

    python bench/pass_table.py [--max-tabs 4] [--trips 8] [examples/*.agent]

Columns: ops before and after `cse,dce` (every op, nested ones included, terminators not);
static `llm.call` count before and after; the critical path in tab-touching calls before and
after `licm,parallelize` (loops counted as running `--trips` times; a parallel loop takes
ceil(trips / max_tabs) rounds), and the speed-up that path length implies.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentjit import compile_file  # noqa: E402
from agentjit.ir import LlmCallOp, ModuleOp, Terminator  # noqa: E402
from agentjit.passes import PassManager  # noqa: E402
from agentjit.passes.dependence import critical_path  # noqa: E402


def count_ops(module: ModuleOp) -> int:
    funcs = list(module.functions)
    return sum(1 for f in funcs for op in f.body.walk() if not op.has_trait(Terminator))


def count_llm(module: ModuleOp) -> int:
    return sum(1 for op in module.walk() if isinstance(op, LlmCallOp))


def path(module: ModuleOp, trips: int) -> float:
    return max((critical_path(f, trips) for f in module.functions), default=0.0)


def row(file: Path, max_tabs: int, trips: int) -> list[str]:
    module = compile_file(str(file)).module
    ops0, llm0, path0 = count_ops(module), count_llm(module), path(module, trips)
    PassManager.from_pipeline("canonicalize,cse,dce").run(module)
    ops1, llm1 = count_ops(module), count_llm(module)
    PassManager.from_pipeline(f"licm,parallelize{{max_tabs={max_tabs}}}").run(module)
    path1 = path(module, trips)
    speedup = f"{path0 / path1:.2f}x" if path1 else "-"
    return [
        file.stem,
        str(ops0),
        str(ops1),
        str(llm0),
        str(llm1),
        f"{path0:g}",
        f"{path1:g}",
        speedup,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--max-tabs", type=int, default=4)
    parser.add_argument("--trips", type=int, default=8)
    args = parser.parse_args(argv)
    files = args.files or sorted((ROOT / "examples").glob("*.agent"))
    head = ["program", "ops", "ops cse+dce", "llm", "llm cse+dce", "path", "path par", "ratio"]
    rows = [row(f, args.max_tabs, args.trips) for f in files]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    totals = [sum(float(r[i]) for r in rows) for i in range(1, 7)]
    print(
        "| **total** | "
        + " | ".join(f"{t:g}" for t in totals)
        + f" | {totals[4] / totals[5]:.2f}x |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
