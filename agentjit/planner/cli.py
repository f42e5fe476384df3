"""`agentjit plan "TASK" --site SITE` and `agentjit cache ls|clear`.

    agentjit plan "Buy the cheapest in-stock product in Cables" --site shop -k 4 --show-candidates

Prints the winning program (or writes it with `-o`), then a table of every candidate: rounds,
where it failed, predicted cost. The endpoint comes from `--base-url/--model/--api-key`, else
the environment (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `AGENTJIT_LLM_MODEL`), else a server
started by `agentjit llm serve`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from agentjit.ir import ParseError, error


def add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that choose the model endpoint (shared by `plan` and `run`)."""
    parser.add_argument(
        "--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8089/v1"
    )
    parser.add_argument("--model", help="model name to request")
    parser.add_argument("--api-key", help="API key (default: $OPENAI_API_KEY)")
    parser.add_argument(
        "--grammar",
        choices=["auto", "on", "off"],
        default="auto",
        help="GBNF-constrained decoding (auto: on for the local llama.cpp server)",
    )


def add_planning_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of the candidate search (shared by `plan` and `run`)."""
    parser.add_argument("-k", type=int, default=4, help="candidates sampled in parallel")
    parser.add_argument("--rounds", type=int, default=3, help="repair rounds per candidate")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-tokens", type=int, default=400)
    parser.add_argument(
        "--no-contract-feedback",
        action="store_true",
        help="tell the model only that a contract failed, not where (for ablations)",
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the plan cache"
    )


def add_plan_parsers(sub: Any) -> None:
    plan = sub.add_parser("plan", help="ask a model for programs; keep the cheapest valid one")
    plan.add_argument("task", help="the task, one sentence")
    plan.add_argument("--site", required=True, help="the site the task is on, e.g. shop")
    plan.add_argument("--show-candidates", action="store_true", help="print every candidate")
    plan.add_argument("-o", "--output", help="write the winning program here")
    plan.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    plan.add_argument("--profile", metavar="DB", help="latency profile store for the cost model")
    add_endpoint_arguments(plan)
    add_planning_arguments(plan)
    plan.set_defaults(func=cmd_plan)

    cache = sub.add_parser("cache", help="the plan cache: list or clear stored plans")
    cache.add_argument("action", choices=["ls", "clear"])
    cache.set_defaults(func=cmd_cache, json=False)


def resolve_site(name: str) -> Any:
    from agentjit.tools import builtin_site_names, load_site

    site = load_site(name)
    if site is None:
        known = ", ".join(builtin_site_names())
        raise ParseError(error("unknown-site", f"unknown site '{name}'", hint=f"known: {known}"))
    return site


def settings_from(args: argparse.Namespace) -> Any:
    from agentjit.planner.plan import PlanSettings

    return PlanSettings(
        k=args.k,
        rounds=args.rounds,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        contract_feedback=not args.no_contract_feedback,
    )


def endpoint_from(args: argparse.Namespace) -> Any:
    from agentjit.planner.endpoint import Endpoint

    grammar = {"auto": None, "on": True, "off": False}[args.grammar]
    return Endpoint.resolve(args.base_url, args.model, args.api_key, grammar)


def cost_model_from(args: argparse.Namespace) -> Any:
    from agentjit.cost.model import cost_model_for

    return cost_model_for(args.profile, getattr(args, "backend", "cdp"))


def cache_and_client(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """The plan cache (unless `--no-cache`), the model client and its model name. Without an
    endpoint the client is None: a cached plan needs no model, and a miss then says so."""
    from agentjit.planner.cache import PlanCache
    from agentjit.planner.endpoint import EndpointError, OpenAiClient

    cache = None if args.no_cache else PlanCache()
    try:
        endpoint = endpoint_from(args)
    except EndpointError:
        if cache is None:
            raise
        return cache, None, args.model or ""
    return cache, OpenAiClient(endpoint), endpoint.model


async def planned_task(args: argparse.Namespace, site: Any, task: str) -> Any:
    """The compiled plan for `task`: from the cache, else from the endpoint."""
    from agentjit.planner.compile_task import compile_task

    cache, client, model = cache_and_client(args)
    return await compile_task(
        task,
        site,
        client,
        settings_from(args),
        model_name=model,
        cache=cache,
        cost_model=cost_model_from(args),
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )


def cmd_plan(args: argparse.Namespace) -> int:
    site = resolve_site(args.site)
    planned = asyncio.run(planned_task(args, site, args.task))
    if args.json:
        print(json.dumps(plan_report(planned), indent=2))
        return 0
    if args.output:
        Path(args.output).write_text(planned.program, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(planned.program)
    print(_summary_line(planned), file=sys.stderr)
    if args.show_candidates and planned.planning:
        print(candidates_table(planned.planning), file=sys.stderr)
    return 0


def _summary_line(planned: Any) -> str:
    schedule = planned.module.function("main").schedule or {}
    strategy = schedule.get("strategy", "?")
    cost = f"predicted {schedule['mean']:.2f} s ({strategy})" if schedule else ""
    if planned.source == "cache":
        return f"from the plan cache in {planned.compile_s * 1000:.0f} ms, no model call; {cost}"
    counts = planned.planning.counts()
    return (
        f"planned in {planned.compile_s:.1f} s: {counts['valid']}/{counts['candidates']} "
        f"candidates valid ({counts['valid_first']} before repair), "
        f"{counts['llm_calls']} model calls; winner {cost}"
    )


def candidates_table(result: Any) -> str:
    costs = {r.candidate.index: r.cost for r in result.ranked}
    lines = ["cand  rounds  outcome    predicted mean"]
    for c in result.candidates:
        cost = costs.get(c.index)
        mean = f"{cost.best.mean:.2f} s ({cost.best.strategy.label})" if cost else "-"
        stage = c.final.stage if c.final else "none"
        lines.append(f"{c.index:>4}  {len(c.attempts) - 1:>6}  {stage:<9}  {mean}")
        lines.extend("      | " + line for line in c.program.rstrip().splitlines())
    return "\n".join(lines)


def plan_report(planned: Any) -> dict[str, Any]:
    """The planning outcome as data (for `--json` and the bench)."""
    report: dict[str, Any] = {
        "task": planned.task,
        "source": planned.source,
        "compile_s": planned.compile_s,
        "program": planned.program,
        "schedule": planned.module.function("main").schedule,
    }
    if planned.planning:
        report["counts"] = planned.planning.counts()
        report["candidates"] = [
            {
                "index": c.index,
                "rounds": len(c.attempts) - 1,
                "stages": [a.checked.stage for a in c.attempts],
                "program": c.program,
            }
            for c in planned.planning.candidates
        ]
    return report


def cmd_cache(args: argparse.Namespace) -> int:
    from agentjit.planner.cache import PlanCache

    cache = PlanCache()
    if args.action == "clear":
        print(f"removed {cache.clear()} plans from {cache.path}")
        return 0
    entries = cache.entries()
    for e in entries:
        k = e.key
        print(f"{k.site}@{k.site_version}  {k.model or '-'}  hits={e.hits}  {k.template!r}")
    print(f"{len(entries)} plans in {cache.path}", file=sys.stderr)
    return 0
