"""Compiled programs run by the runtime on real django-oscar and Trac, on both backends, and
checked in the applications' own databases: the multi-step shop task (category -> cheapest in
stock -> basket -> guest checkout), the Trac task (log in -> file a ticket -> query open
tickets), and the fan-out (details of 8 products) serial, on 4 tabs and hedged (2 copies of each
product's chain) with the same result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentjit import compile_file, compile_text
from agentjit.ir import ModuleOp
from agentjit.passes import PassManager
from agentjit.runtime.executor import RunSettings
from agentjit.runtime.run import run_module
from agentjit.webapps import AppServer, oscar, trac

pytestmark = [pytest.mark.browser, pytest.mark.webapp, pytest.mark.asyncio(loop_scope="module")]

ROOT = Path(__file__).resolve().parent.parent
PARALLEL = "canonicalize,check-contracts,cse,dce,licm,parallelize{max_tabs=4}"
BUY_CHEAPEST = """use shop

def main(category: str = "Cables") -> str:
    open_category(name=category)
    in_stock = [p for p in list_products() if p.in_stock]
    best = min(in_stock, key=lambda p: p.price)
    add_to_basket(title=best.title)
    order = checkout(email="g@example.com", name="Grace Hopper", address="1 Test Street",
                     city="London", postcode="SW1A 1AA", country="GB")
    return order.number
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    data = oscar.fresh_copy(oscar.seeded_template(), tmp_path_factory.mktemp("oscar") / "shop")
    with oscar.start(data) as server:
        yield server


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    env = trac.fresh_copy(trac.seeded_template(), tmp_path_factory.mktemp("trac") / "env")
    with trac.start(env) as server:
        yield server


def optimized(module: ModuleOp, pipeline: str = PARALLEL) -> ModuleOp:
    PassManager.from_pipeline(pipeline).run(module)
    return module


@pytest.mark.parametrize("backend", ["cdp", "selenium"])
async def test_fanout_serial_and_on_four_tabs_agree(backend: str, shop: AppServer) -> None:
    path = ROOT / "examples" / "shop_fanout_details.agent"
    sites = {"shop": shop.url}
    serial = await run_module(
        optimized(compile_file(path).module, "canonicalize"), backend=backend, sites=sites
    )
    parallel = await run_module(optimized(compile_file(path).module), backend=backend, sites=sites)
    assert serial.result == pytest.approx(parallel.result)
    opened = [s.args["title"] for s in parallel.recorder.slices if s.name.endswith("details")]
    prices = {p["title"]: p["price"] for p in oscar.products(shop.extra["db"], "Books")}
    assert len(set(opened)) == 8 and set(opened) <= set(prices)
    assert parallel.result == pytest.approx(sum(prices[t] for t in opened) / 8, abs=0.01)
    assert {s.row for s in parallel.recorder.slices} == {0, 1, 2, 3, 4}
    hedged = await run_module(
        optimized(compile_file(path).module),
        backend=backend,
        sites=sites,
        settings=RunSettings(hedge=2),
    )
    assert hedged.result == pytest.approx(parallel.result) and hedged.tabs_left_open == 0
    races = [s for s in hedged.recorder.slices if s.name == "hedge"]
    assert len(races) == 8 and all(len(s.args["lost"]) == 1 for s in races)


@pytest.mark.parametrize("backend", ["cdp", "selenium"])
async def test_buy_the_cheapest_in_stock_cable(backend: str, shop: AppServer) -> None:
    db = shop.extra["db"]
    before = {o["number"] for o in oscar.orders(db)}
    module = optimized(compile_text(BUY_CHEAPEST, "buy.agent").module)
    report = await run_module(module, backend=backend, sites={"shop": shop.url})
    (order,) = [o for o in oscar.orders(db) if o["number"] not in before]
    assert order["number"] == report.result and order["guest_email"] == "g@example.com"
    assert [line["title"] for line in order["lines"]] == [oscar.cheapest_in_stock(db, "Cables")]


@pytest.mark.parametrize("backend", ["cdp", "selenium"])
async def test_file_a_ticket_and_find_it_open(backend: str, tracker: AppServer) -> None:
    path = ROOT / "examples" / "tracker_file_and_verify.agent"
    module = optimized(compile_file(path).module)
    report = await run_module(module, backend=backend, sites={"tracker": tracker.url})
    (ticket,) = [t for t in trac.tickets(tracker.extra["db"]) if t["id"] == report.result]
    assert ticket["summary"] == "Checkout button unresponsive"
    assert ticket["reporter"] == "alice" and ticket["status"] != "closed"
    assert ticket["priority"] == "critical" and ticket["component"] == "checkout"
