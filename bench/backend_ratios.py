"""Backends and runtime, measured in one run and printed as ratios (issue goals in brackets).

    python bench/backend_ratios.py            # primitives, then the fan-out on django-oscar
    python bench/backend_ratios.py --quick    # fewer calls and repeats
    python bench/backend_ratios.py --only primitives|fanout

1. Per-primitive latency on both backends: median of >= 200 calls each on loopback against the
   static test pages [CDP <= 1 ms per non-navigating primitive, >= 5x faster than Selenium].
2. The fan-out task (examples/shop_fanout_details.agent: a category, its listing, then 8 product
   pages) on django-oscar, serial and parallelized to 4 tabs (no hedging), on both backends, and
   hedged (2 copies per product on the same 4 tabs) on CDP; and the ceiling: the same page loads
   issued at once over raw CDP [parallel >= 80% of the ceiling]. Each run compiles with the
   profile store read for its backend, so the warm-up runs of one backend do not skew the
   other's predictions.
3. Predicted vs measured makespan of the parallel plan (whatever strategy the schedule picks)
   after the warm-up runs above [within 15%].
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentjit import compile_file  # noqa: E402
from agentjit.backends.base import launch_backend  # noqa: E402
from agentjit.cost.model import CostModel  # noqa: E402
from agentjit.cost.profile import ProfileStore  # noqa: E402
from agentjit.passes import PassContext, PassManager  # noqa: E402
from agentjit.runtime import call_tool  # noqa: E402
from agentjit.runtime.executor import RunSettings  # noqa: E402
from agentjit.runtime.run import run_module  # noqa: E402
from agentjit.tools import load_site  # noqa: E402

FANOUT = ROOT / "examples" / "shop_fanout_details.agent"
SERIAL = "canonicalize,check-contracts,cse,dce,schedule"
PARALLEL = "canonicalize,check-contracts,cse,dce,licm,parallelize{max_tabs=4},schedule"


async def median_ms(call: Callable[[], Awaitable[Any]], n: int) -> float:
    await call()  # warm
    times = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def serve_static() -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(ROOT / "tests" / "pages"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


async def primitives(backend: str, base: str, n: int) -> dict[str, float]:
    async with launch_backend(backend) as browser:
        page = await (await browser.new_context()).new_page()
        await page.goto(base + "/index.html")
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "evaluate": lambda: page.evaluate("1 + 1"),
            "exists": lambda: page.exists("#title"),
            "text": lambda: page.text("#title"),
            "texts": lambda: page.texts(".items li"),
            "attribute": lambda: page.attribute("#next", "href"),
            "fill": lambda: page.fill("#q", "abc"),
            "click": lambda: page.click("#counter"),
        }
        out = {name: await median_ms(call, n) for name, call in calls.items()}
        out["goto (navigates)"] = await median_ms(lambda: page.goto(base + "/second.html"), n // 4)
        return out


def report_primitives(n: int) -> None:
    server, base = serve_static()
    try:
        cdp = asyncio.run(primitives("cdp", base, n))
        selenium = asyncio.run(primitives("selenium", base, n))
    finally:
        server.shutdown()
    print(f"\n1. Page primitives, median of {n} calls (goto: {n // 4}), ms")
    print(f"{'primitive':<18}{'cdp':>9}{'selenium':>10}{'ratio':>8}")
    for name in cdp:
        print(
            f"{name:<18}{cdp[name]:>9.2f}{selenium[name]:>10.2f}{selenium[name] / cdp[name]:>7.1f}x"
        )
    reads = [k for k in cdp if k != "goto (navigates)"]
    worst = max(cdp[k] for k in reads)
    ratio = statistics.median(selenium[k] / cdp[k] for k in reads)
    print(f"goal: CDP <= 1 ms per non-navigating primitive: worst {worst:.2f} ms")
    print(f"goal: CDP >= 5x faster than Selenium: median ratio {ratio:.1f}x")


def compiled(pipeline: str, store: ProfileStore | None = None, backend: str = "cdp"):
    module = compile_file(FANOUT).module
    model = CostModel(store.for_backend(backend)) if store is not None else CostModel()
    PassManager.from_pipeline(pipeline).run(module, PassContext(options={"cost_model": model}))
    return module


async def ceiling(category_url: str, urls: list[str]) -> float:
    """The category load, then every product page at once, each on its own tab, raw CDP."""
    async with launch_backend("cdp") as browser:
        context = await browser.new_context()
        pages = [await context.new_page() for _ in range(len(urls) + 1)]
        start = time.perf_counter()
        await pages[0].goto(category_url)
        await asyncio.gather(*(p.goto(u) for p, u in zip(pages[1:], urls, strict=True)))
        return time.perf_counter() - start


VARIANTS = {
    "cdp": (("serial", SERIAL, 1), ("parallel", PARALLEL, 1), ("hedge-2", PARALLEL, 2)),
    "selenium": (("serial", SERIAL, 1), ("parallel", PARALLEL, 1)),
}


async def fanout(url: str, repeats: int) -> None:
    sites = {"shop": url}
    store = ProfileStore(Path(tempfile.mkdtemp()) / "profile.db")
    print("\n2. Fan-out: a category, its listing, 8 product pages (django-oscar), seconds")
    results: dict[tuple[str, str], float] = {}
    for backend, variants in VARIANTS.items():
        for label, pipeline, hedge in variants:
            times, answers = [], set()
            for _ in range(repeats):
                report = await run_module(
                    compiled(pipeline, store, backend),
                    backend=backend,
                    sites=sites,
                    profile=store,
                    settings=RunSettings(hedge=hedge),
                )
                times.append(report.measured_s)
                answers.add(round(report.result, 2))
            results[backend, label] = statistics.median(times)
            print(
                f"{backend:<9}{label:<9}{results[backend, label]:>7.3f}  result {sorted(answers)}"
            )
        speedup = results[backend, "serial"] / results[backend, "parallel"]
        print(f"{backend}: parallel is {speedup:.2f}x faster than serial")
    category_url, product_urls = await fanout_pages(url)
    ceilings = [await ceiling(category_url, product_urls) for _ in range(repeats)]
    best = statistics.median(ceilings)
    print(f"ceiling (raw CDP, {len(product_urls)} loads at once): {best:.3f} s")
    share = best / results["cdp", "parallel"]
    print(f"goal: parallel fan-out >= 80% of the ceiling: {share:.0%}")
    await predicted_vs_measured(store, sites)


async def predicted_vs_measured(store: ProfileStore, sites: dict[str, str]) -> None:
    module = compiled(PARALLEL, store)
    schedule = module.function("main").schedule
    predicted = schedule["mean"]
    measured = (await run_module(module, sites=sites)).measured_s
    print(
        f"\n3. Predicted vs measured (parallel plan, CDP, after the warm-up runs above;"
        f" the schedule chose {schedule['strategy']})"
    )
    error = (measured - predicted) / predicted
    print(f"predicted {predicted:.3f} s, measured {measured:.3f} s: {error:+.0%} (goal within 15%)")


async def fanout_pages(url: str) -> tuple[str, list[str]]:
    """The pages the fan-out loads: the Books category and its first 8 products."""
    async with launch_backend("cdp") as browser:
        page = await (await browser.new_context()).new_page()
        await call_tool(load_site("shop"), "open_category", page, url, name="Books")
        links = await page.evaluate(
            "[...document.querySelectorAll('article.product_pod h3 a')].map(a => a.href)"
        )
        return await page.url(), list(links)[:8]


def report_fanout(repeats: int) -> None:
    from agentjit.webapps import oscar

    with tempfile.TemporaryDirectory() as tmp:
        data = oscar.fresh_copy(oscar.seeded_template(), Path(tmp) / "shop")
        with oscar.start(data) as shop:
            asyncio.run(fanout(shop.url, repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["primitives", "fanout"])
    args = parser.parse_args()
    if args.only != "fanout":
        report_primitives(40 if args.quick else 200)
    if args.only != "primitives":
        report_fanout(1 if args.quick else 3)


if __name__ == "__main__":
    main()
