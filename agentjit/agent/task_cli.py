"""`agentjit run "TASK" --site SITE[=URL] [--mode jit|loop]`: the command-line side of a task.

Kept apart from `run_cli` (programs) so that planning and the agent loop are imported only
when a sentence is run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from agentjit.ir import ParseError, error
from agentjit.planner.cli import (
    cache_and_client,
    cost_model_from,
    endpoint_from,
    resolve_site,
    settings_from,
)
from agentjit.planner.endpoint import EndpointError


def site_and_url(items: list[str]) -> tuple[str, str | None]:
    """The one `--site NAME[=URL]` a task names."""
    if len(items) != 1:
        raise ParseError(
            error(
                "task-site",
                f"a task sentence needs exactly one --site, got {len(items)}",
                hint='e.g. agentjit run "Buy the cheapest cable" --site shop=http://127.0.0.1:8001',
            )
        )
    name, _, url = items[0].partition("=")
    return name, url or None


def cmd_run_task(args: argparse.Namespace) -> int:
    name, url = site_and_url(args.site)
    site = resolve_site(name)
    try:
        if args.mode == "loop":
            return _loop(args, site, url)
        return _jit(args, site, url)
    except EndpointError as exc:
        print(f"agentjit run: {exc}", file=sys.stderr)
        return 1


def _loop(args: argparse.Namespace, site, url: str | None) -> int:  # type: ignore[no-untyped-def]
    from agentjit.agent.loop import run_loop_cli

    return run_loop_cli(
        args.file, site.name, url, args.backend, endpoint_from(args), args.max_steps, args.trace
    )


def _jit(args: argparse.Namespace, site, url: str | None) -> int:  # type: ignore[no-untyped-def]
    from agentjit.agent.run_task import run_task
    from agentjit.runtime.executor import RunSettings

    cache, client, model = cache_and_client(args)
    report = asyncio.run(
        run_task(
            args.file,
            site,
            client,
            backend=args.backend,
            base_url=url,
            settings=settings_from(args),
            run_settings=RunSettings(check_contracts=not args.no_checks),
            model_name=model,
            cache=cache,
            cost_model=cost_model_from(args),
            max_replans=args.replans,
            trace=args.trace,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
            timeout_s=args.timeout,
        )
    )
    print(report.summary())
    return 0
