"""The `agentjit` command.

    agentjit check FILE [--json]                 parse, lower, verify, check contracts
    agentjit opt FILE -p PIPELINE [options]      run passes; print IR, DOT or the schedule
    agentjit run FILE [--backend cdp|selenium]   run it on a real browser; trace, profile
    agentjit serve oscar|trac [--port N]         a real web app on 127.0.0.1 to run against
    agentjit plan "TASK" --site SITE [-k K]      ask a model for k programs; keep the cheapest valid
    agentjit cache ls|clear                      the plan cache (repeated tasks need no model call)
    agentjit llm serve|install|status            the local model endpoint (llama.cpp, SmolLM2)
    agentjit profile show|import|export          the latency profile store the cost model reads
    agentjit parse-ir FILE                       read textual IR, verify, print it back
    agentjit site [NAME] [--emit text|json|dot]  a site's tools, contracts and state machine
    agentjit demo                                a guided tour on a shipped example

FILE is DSL source (`.agent`) or textual IR (`.ir`, or any file whose text starts like IR).
Diagnostics go to stderr in human form, or as JSON with `--json` (for the LLM repair loop).
Exit codes: 0 ok, 1 the input has errors, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agentjit.ir import (
    CompilerError,
    Diagnostic,
    ModuleOp,
    ParseError,
    error,
    parse_ir,
    print_ir,
    verify,
)

if TYPE_CHECKING:
    from agentjit.cost.model import CostModel
    from agentjit.passes import PassContext

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _emit_diagnostics(diags: list[Diagnostic], as_json: bool) -> None:
    if as_json:
        print(json.dumps([d.to_dict() for d in diags], indent=2), file=sys.stderr)
    else:
        for d in diags:
            print(d.render() + "\n", file=sys.stderr)


def _looks_like_ir(path: Path, text: str) -> bool:
    if path.suffix in (".ir", ".mlir"):
        return True
    head = text.lstrip()
    return head.startswith(('"builtin.module"', "!"))


def load_module(path: Path) -> tuple[ModuleOp, list[Diagnostic]]:
    """A verified module from DSL or IR text, plus warnings; raises `CompilerError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParseError(error("io", f"cannot read {path}: {exc.strerror}")) from None
    if _looks_like_ir(path, text):
        module = parse_ir(text, str(path))
        if not isinstance(module, ModuleOp):
            raise ParseError(
                error("ir-syntax", "the top-level op must be builtin.module", module.loc)
            )
        verify(module)
        return module, []
    from agentjit import compile_text

    compiled = compile_text(text, str(path))
    return compiled.module, compiled.warnings


def cmd_check(args: argparse.Namespace) -> int:
    from agentjit.passes import PassContext, PassManager

    module, warnings = load_module(Path(args.file))
    if not args.no_contracts:
        ctx = PassContext()
        PassManager.from_pipeline("check-contracts").run(module, ctx)
        warnings = warnings + ctx.warnings
    _emit_diagnostics(warnings, args.json)
    n_ops = sum(1 for _ in module.walk())
    plural = "" if len(warnings) == 1 else "s"
    print(f"ok: {args.file} ({n_ops} ops, {len(warnings)} warning{plural})")
    return 0


def cmd_opt(args: argparse.Namespace) -> int:
    from agentjit.passes import PassContext, PassManager
    from agentjit.passes.manager import parse_pipeline

    passes = parse_pipeline(args.pipeline or "")
    if (args.emit == "schedule" or args.plot) and not any(p.name == "schedule" for p in passes):
        passes += parse_pipeline("schedule")
    module, warnings = load_module(Path(args.file))
    _emit_diagnostics(warnings, args.json)
    manager = PassManager(
        passes,
        verify_each=not args.no_verify,
        print_before=set(filter(None, args.print_before.split(","))),
        print_after=set(filter(None, args.print_after.split(","))),
        time_passes=args.time_passes,
    )
    # Only `schedule` reads the cost model: other pipelines neither load NumPy nor open the store.
    scheduling = any(p.name == "schedule" for p in passes)
    ctx = PassContext(options={"cost_model": _cost_model(args.profile)} if scheduling else {})
    manager.run(module, ctx)
    if args.plot:
        _plot(ctx, args.plot)
    output = _render(module, args.emit, ctx)
    if args.output:
        Path(args.output).write_text(output, encoding="utf-8")
    else:
        sys.stdout.write(output)
    return 0


def _cost_model(profile: str | None) -> CostModel:
    from agentjit.cost.model import cost_model_for

    return cost_model_for(profile)


def _plot(ctx: PassContext, path: str) -> None:
    from agentjit.cost.gantt import plot_schedule

    result = ctx.options["schedule"]
    plot_schedule(result.plan, result.predictions, path, f"@{result.function}")
    print(f"wrote {path}", file=sys.stderr)


def _render(module: ModuleOp, emit: str, ctx: PassContext | None = None) -> str:
    if emit == "schedule":
        from agentjit.cost.gantt import schedule_text

        result = ctx.options["schedule"]
        return schedule_text(result)
    if emit == "dot":
        from agentjit.ir.graph import dataflow_graph, to_dot

        return "\n".join(to_dot(dataflow_graph(f), f.sym_name) for f in module.functions)
    return print_ir(module)


def cmd_parse_ir(args: argparse.Namespace) -> int:
    path = Path(args.file)
    module = parse_ir(path.read_text(encoding="utf-8"), str(path))
    verify(module)
    sys.stdout.write(print_ir(module))
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    from agentjit.tools import builtin_site_names, load_site
    from agentjit.tools.describe import describe_site, site_json
    from agentjit.tools.statemachine import to_dot

    if args.name is None:
        print("\n".join(builtin_site_names()))
        return 0
    site = load_site(args.name)
    if site is None:
        known = ", ".join(builtin_site_names())
        raise ParseError(error("unknown-site", f"unknown site '{args.name}'", hint=known))
    if args.emit == "json":
        print(json.dumps(site_json(site), indent=2, default=repr))
    elif args.emit == "dot":
        sys.stdout.write(to_dot(site))
    else:
        sys.stdout.write(describe_site(site))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from agentjit.demo import run_demo

    return run_demo(EXAMPLES)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentjit", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="parse, lower and verify a program")
    check.add_argument("file")
    check.add_argument("--json", action="store_true", help="diagnostics as JSON on stderr")
    check.add_argument("--no-contracts", action="store_true", help="skip check-contracts")
    check.set_defaults(func=cmd_check)

    site = sub.add_parser("site", help="show a site's tools, contracts and state machine")
    site.add_argument("name", nargs="?", help="omit to list the installed sites")
    site.add_argument("--emit", choices=["text", "json", "dot"], default="text")
    site.set_defaults(func=cmd_site, json=False)

    opt = sub.add_parser("opt", help="run a pass pipeline and print the result")
    opt.add_argument("file")
    opt.add_argument("-p", "--pipeline", default="", help='e.g. "canonicalize,verify"')
    opt.add_argument("--print-before", default="", metavar="PASSES|all")
    opt.add_argument("--print-after", default="", metavar="PASSES|all")
    opt.add_argument("--time-passes", action="store_true")
    opt.add_argument("--no-verify", action="store_true", help="skip verify-after-each-pass")
    opt.add_argument(
        "--emit",
        choices=["ir", "dot", "schedule"],
        default="ir",
        help="schedule: every strategy's predicted makespan and a Gantt chart of the best",
    )
    opt.add_argument("--plot", metavar="PNG", help="draw the predicted schedule (runs schedule)")
    opt.add_argument("--profile", metavar="DB", help="latency profile store for the cost model")
    opt.add_argument("-o", "--output", help="write the result here instead of stdout")
    opt.add_argument("--json", action="store_true", help="diagnostics as JSON on stderr")
    opt.set_defaults(func=cmd_opt)

    pir = sub.add_parser("parse-ir", help="read textual IR, verify it, print it back")
    pir.add_argument("file")
    pir.add_argument("--json", action="store_true", help="diagnostics as JSON on stderr")
    pir.set_defaults(func=cmd_parse_ir)

    from agentjit.cost.profile_cli import add_profile_parser

    add_profile_parser(sub)

    from agentjit.run_cli import add_run_parser
    from agentjit.webapps.cli import add_serve_parser

    add_run_parser(sub)
    add_serve_parser(sub)

    from agentjit.localllm.cli import add_llm_parser
    from agentjit.planner.cli import add_plan_parsers

    add_plan_parsers(sub)
    add_llm_parser(sub)

    demo = sub.add_parser("demo", help="a short guided tour on a shipped example")
    demo.set_defaults(func=cmd_demo, json=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CompilerError as exc:
        _emit_diagnostics(exc.diagnostics, getattr(args, "json", False))
        n = len(exc.diagnostics)
        print(f"{n} error{'s' if n != 1 else ''}", file=sys.stderr)
        return 1
