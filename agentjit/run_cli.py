"""`agentjit run FILE|TASK`: compile a program (or plan a task sentence), run it on a real
browser, report predicted vs measured.

    agentjit run examples/shop_cheapest.agent --site shop=http://127.0.0.1:8001 \\
        --arg category=Cables --backend cdp --trace run.json --gantt run.png
    agentjit run "Buy the cheapest in-stock product in Cables" --site shop=http://127.0.0.1:8001
    agentjit run "Buy the cheapest in-stock product in Cables" --site shop --mode loop

A task sentence (anything that is not an existing file) needs exactly one `--site`. In `jit`
mode it is planned (plan cache, else the model: see `agentjit plan`), run, and re-planned from
the observed page when a run-time contract fails (`--replans`). In `loop` mode the baseline
agent loop does it instead: one model call per tool call, same tools, model and browser.

The default pipeline checks contracts, optimizes, parallelizes and schedules. Every op's latency
goes to the profile store (`--profile`, else $AGENTJIT_PROFILE or the default path), so the next
compile predicts from what this run measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_PIPELINE = "canonicalize,check-contracts,cse,dce,licm,parallelize{max_tabs=4},schedule"


def add_run_parser(sub: Any) -> None:
    from agentjit.planner.cli import add_endpoint_arguments, add_planning_arguments

    run = sub.add_parser("run", help="compile (or plan) and run a program on a real browser")
    run.add_argument("file", metavar="FILE|TASK", help="a program, or a task sentence")
    run.add_argument("--backend", choices=["cdp", "selenium"], default="cdp")
    run.add_argument("-p", "--pipeline", default=DEFAULT_PIPELINE)
    run.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an argument of main (VALUE parsed as JSON, else taken as text)",
    )
    run.add_argument(
        "--site",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="where a site runs (default: its declared base URL)",
    )
    run.add_argument("--trace", metavar="JSON", help="write a Chrome trace (opens in Perfetto)")
    run.add_argument("--gantt", metavar="PNG", help="draw the measured schedule")
    run.add_argument("--profile", metavar="DB", help="profile store to read and append to")
    run.add_argument("--no-checks", action="store_true", help="skip run-time contract checks")
    run.add_argument("--timeout", type=float, default=600.0, help="seconds for the whole run")
    run.add_argument("--json", action="store_true", help="diagnostics as JSON on stderr")
    tasks = run.add_argument_group("task sentences")
    tasks.add_argument("--mode", choices=["jit", "loop"], default="jit")
    tasks.add_argument("--replans", type=int, default=2, help="re-plans after contract failures")
    tasks.add_argument("--max-steps", type=int, default=20, help="loop mode: step limit")
    add_endpoint_arguments(tasks)
    add_planning_arguments(tasks)
    run.set_defaults(func=cmd_run)


def pairs(items: list[str], what: str, parse_json: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"agentjit run: {what} {item!r} is not NAME=VALUE")
        out[name] = _json_or_text(value) if parse_json else value
    return out


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def is_task(text: str) -> bool:
    """A sentence, not a program file: no such file, and not named like one."""
    return not Path(text).exists() and not text.endswith((".agent", ".ir", ".mlir"))


def cmd_run(args: argparse.Namespace) -> int:
    if is_task(args.file):
        from agentjit.agent.task_cli import cmd_run_task

        return cmd_run_task(args)
    return cmd_run_file(args)


def cmd_run_file(args: argparse.Namespace) -> int:
    from agentjit.cli import load_module
    from agentjit.cost.model import CostModel
    from agentjit.cost.profile import ProfileStore
    from agentjit.passes import PassContext, PassManager
    from agentjit.runtime.executor import RunSettings
    from agentjit.runtime.run import run_module

    module, _ = load_module(Path(args.file))
    path = Path(args.profile) if args.profile else ProfileStore.default_path()
    store = ProfileStore(path, backend=args.backend)  # predict from this backend's latencies
    ctx = PassContext(options={"cost_model": CostModel(store)})
    PassManager.from_pipeline(args.pipeline).run(module, ctx)
    report = asyncio.run(
        run_module(
            module,
            backend=args.backend,
            args=pairs(args.arg, "--arg", parse_json=True),
            sites=pairs(args.site, "--site"),
            trace=args.trace,
            gantt=args.gantt,
            profile=store,
            settings=RunSettings(check_contracts=not args.no_checks),
            timeout_s=args.timeout,
        )
    )
    print(report.summary())
    if args.trace:
        print(f"trace: {args.trace} (open in Perfetto)", file=sys.stderr)
    return 0
