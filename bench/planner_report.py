"""The LLM frontend, measured in one run with the local model (SmolLM2-135M on llama.cpp).

    python bench/planner_report.py             # everything (tens of minutes on 2 cores)
    python bench/planner_report.py --quick     # fewer candidates and tasks
    python bench/planner_report.py --only validity|latency|cache|modes
    python bench/planner_report.py --base-url URL --model NAME   # another endpoint

1. validity: on the shop and tracker tasks, the fraction of candidates valid before repair and
   after up to R repair rounds, with the compiler's contract diagnostics sent back and without
   (the model then hears only that a contract failed), and the check stage each candidate
   stopped at (syntax, types, planner, contract, ok).
2. latency: wall-clock planning time for k = 1, 4, 8 candidates (one repair round).
3. cache: compile latency of a repeated task from the plan cache (no model call), median.
4. modes: on django-oscar and on Trac, the JIT (plan, then run the compiled plan) and the agent
   loop (one model call per tool call), same task, model, tools and browser: seconds, model
   calls and what each did.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentjit.planner.cache import PlanCache  # noqa: E402
from agentjit.planner.compile_task import NoValidPlan, compile_task  # noqa: E402
from agentjit.planner.endpoint import Endpoint, OpenAiClient  # noqa: E402
from agentjit.planner.plan import PlanSettings, plan_task  # noqa: E402
from agentjit.tools import load_site  # noqa: E402
from agentjit.webapps.trac.db import tickets  # noqa: E402

TASKS = {
    "shop": [
        "Add the cheapest in-stock product of the Cables category to the basket",
        "Return the titles of the products in the Books category",
        'Search for "USB" and return how many products are found',
    ],
    "tracker": [
        "Return the ids of the open tickets of the checkout component",
        'Log in as alice with password s3cret and file a ticket titled "Search is slow"',
        "Count the open tickets whose priority is blocker",
    ],
}
SHOP_MODES_TASK = TASKS["shop"][0]
TRACKER_MODES_TASK = TASKS["tracker"][0]


@contextlib.contextmanager
def endpoint_for(args: argparse.Namespace) -> Iterator[Endpoint]:
    if args.base_url:
        yield Endpoint(args.base_url, args.model or "default", grammar=args.grammar)
        return
    from agentjit.localllm import LocalLlmServer

    with LocalLlmServer.start(threads=args.threads) as server:
        print(f"local model {server.model} at {server.base_url}", flush=True)
        yield Endpoint(server.base_url, server.model, grammar=True, concurrency=1)


async def validity(endpoint: Endpoint, k: int, rounds: int, per_site: int) -> None:
    print(f"\n1. validity: k={k} candidates, up to {rounds} repair rounds", flush=True)
    print(f"{'feedback':<10} {'site':<8} {'task':<3} {'first':>6} {'after':>6}  calls  s")
    for feedback in (True, False):
        totals = [0, 0, 0]
        stages: collections.Counter[str] = collections.Counter()
        for site_name, tasks in TASKS.items():
            site = load_site(site_name)
            for i, task in enumerate(tasks[:per_site]):
                settings = PlanSettings(k=k, rounds=rounds, contract_feedback=feedback)
                result = await plan_task(task, site, OpenAiClient(endpoint), settings)
                c = result.counts()
                totals = [totals[0] + c["valid_first"], totals[1] + c["valid"], totals[2] + k]
                stages.update(result.stages())
                label = "contracts" if feedback else "none"
                print(
                    f"{label:<10} {site_name:<8} {i:<3} {c['valid_first']:>3}/{k:<2} "
                    f"{c['valid']:>3}/{k:<2} {c['llm_calls']:>5}  {result.seconds:.0f}  "
                    f"first {_stages(result.stages(first=True))}; "
                    f"final {_stages(result.stages())}",
                    flush=True,
                )
        first, after, n = totals
        print(
            f"  {'with' if feedback else 'without'} contract feedback: valid before repair "
            f"{first}/{n} ({first / n:.0%}), after {after}/{n} ({after / n:.0%}); "
            f"where candidates ended: {_stages(stages)}",
            flush=True,
        )


def _stages(counts: dict[str, int]) -> str:
    return " ".join(f"{stage}={n}" for stage, n in sorted(counts.items())) or "-"


async def latency(endpoint: Endpoint, ks: list[int]) -> None:
    print("\n2. planning latency (one repair round), shop task 0", flush=True)
    site = load_site("shop")
    for k in ks:
        result = await plan_task(
            TASKS["shop"][0], site, OpenAiClient(endpoint), PlanSettings(k=k, rounds=1)
        )
        c = result.counts()
        print(
            f"  k={k}: {result.seconds:.1f} s, {c['llm_calls']} model calls, "
            f"{c['valid']}/{k} valid",
            flush=True,
        )


async def cache_hits(repeats: int) -> None:
    print("\n3. compile from the plan cache (no model call)", flush=True)
    site = load_site("shop")
    program = (ROOT / "examples" / "shop_cheapest.agent").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        cache = PlanCache(Path(tmp) / "plans.db")
        cache.store(
            "Buy the cheapest in-stock product in Cables", "shop", site.version, "m", program
        )
        times = []
        for i in range(repeats):
            task = f"Buy the cheapest in-stock product in {('Books', 'Toys', 'Cables')[i % 3]}"
            planned = await compile_task(task, site, None, model_name="m", cache=cache)
            assert planned.source == "cache"
            times.append(planned.compile_s)
    print(
        f"  median {statistics.median(times) * 1000:.0f} ms over {repeats} hits "
        f"(parse, check, optimize, schedule; examples/shop_cheapest.agent lifted over the category)"
    )


async def modes(endpoint: Endpoint, k: int, max_steps: int, sites: set[str]) -> None:
    """JIT and loop on the same task, on django-oscar (a basket write) and Trac (a read)."""
    with tempfile.TemporaryDirectory() as tmp:
        if "shop" in sites:
            await _shop_modes(endpoint, k, max_steps, Path(tmp))
        if "tracker" in sites:
            await _tracker_modes(endpoint, k, max_steps, Path(tmp))


async def _shop_modes(endpoint: Endpoint, k: int, max_steps: int, tmp: Path) -> None:
    from agentjit.webapps import oscar

    print(f"\n4. JIT vs agent loop on django-oscar: {SHOP_MODES_TASK!r}", flush=True)
    data = oscar.fresh_copy(oscar.seeded_template(), tmp / "shop")
    with oscar.start(data) as server:
        db = server.extra["db"]
        for mode in ("jit", "loop"):
            before = oscar.basket_lines(db)
            outcome = await _one_mode(mode, endpoint, "shop", server.url, k, max_steps)
            added = [x["title"] for x in oscar.basket_lines(db) if x not in before]
            print(f"  {mode}: {outcome}; basket lines added: {added}", flush=True)


async def _tracker_modes(endpoint: Endpoint, k: int, max_steps: int, tmp: Path) -> None:
    from agentjit.webapps import trac

    print(f"\n4. JIT vs agent loop on Trac: {TRACKER_MODES_TASK!r}", flush=True)
    env = trac.fresh_copy(trac.seeded_template(), tmp / "trac")
    with trac.start(env) as server:
        open_ids = [
            t["id"]
            for t in tickets(server.extra["db"], component="checkout")
            if t["status"] != "closed"
        ]
        print(f"  expected answer: {open_ids}", flush=True)
        for mode in ("jit", "loop"):
            outcome = await _one_mode(mode, endpoint, "tracker", server.url, k, max_steps)
            print(f"  {mode}: {outcome}", flush=True)


async def _one_mode(
    mode: str, endpoint: Endpoint, site_name: str, url: str, k: int, max_steps: int
) -> str:
    """Run the site's modes task once in `mode`; what it cost and answered, as one line."""
    from agentjit.agent.loop import run_loop
    from agentjit.agent.run_task import run_task

    site = load_site(site_name)
    task = SHOP_MODES_TASK if site_name == "shop" else TRACKER_MODES_TASK
    client = OpenAiClient(endpoint)
    started = time.perf_counter()
    if mode == "loop":
        loop = await run_loop(task, site, client, base_url=url, max_steps=max_steps)
        return (
            f"{loop.seconds:.1f} s, {loop.llm_calls} model calls, {len(loop.steps)} steps, "
            f"ended by {loop.reason}; answer {loop.answer!r}"
        )
    try:
        report = await run_task(task, site, client, base_url=url, settings=PlanSettings(k=k))
    except NoValidPlan as exc:
        return (
            f"no valid plan after {time.perf_counter() - started:.1f} s "
            f"({exc.diagnostics[0].message})"
        )
    return (
        f"{report.seconds:.1f} s ({report.plans[0].compile_s:.1f} s planning, "
        f"{sum(r.measured_s for r in report.runs):.1f} s running), {report.llm_calls} model "
        f"calls; answer {report.result!r}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["validity", "latency", "cache", "modes"])
    parser.add_argument("--sites", default="shop,tracker", help="modes: on which apps")
    parser.add_argument("--base-url")
    parser.add_argument("--model")
    parser.add_argument("--grammar", action="store_true", help="the endpoint takes GBNF")
    parser.add_argument(
        "--threads", type=int, default=2, help="llama.cpp threads (1 is steadier beside other work)"
    )
    args = parser.parse_args()
    k, rounds, per_site = (2, 1, 1) if args.quick else (4, 2, 2)
    ks = [1, 2] if args.quick else [1, 4, 8]

    async def run(endpoint: Endpoint | None) -> None:
        if args.only in (None, "cache"):
            await cache_hits(5 if args.quick else 30)
        if endpoint is None:
            return
        if args.only in (None, "validity"):
            await validity(endpoint, k, rounds, per_site)
        if args.only in (None, "latency"):
            await latency(endpoint, ks)
        if args.only in (None, "modes"):
            sites = set(args.sites.split(","))
            await modes(endpoint, 2 if args.quick else 4, 8 if args.quick else 15, sites)

    if args.only == "cache":
        asyncio.run(run(None))
        return 0
    with endpoint_for(args) as endpoint:
        asyncio.run(run(endpoint))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
