"""The shop site's tool bodies against the real django-oscar shop in a real headless Chromium.

Every tool runs through `call_tool` (relative URLs resolved against the running shop), on both
backends. After each step `observe` must agree with the tool's `ensures`, and the effects are
checked in the shop's own database, not only through the page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agentjit.runtime import SiteBinding, SitePage, call_tool
from agentjit.sites import shop
from agentjit.sites.shop import ShopError
from agentjit.tools.state import matches
from agentjit.webapps import AppServer
from agentjit.webapps.oscar import (
    basket_lines,
    cheapest_in_stock,
    fresh_copy,
    orders,
    products,
    seeded_template,
    start,
)
from tests.browser_fixtures import browser  # noqa: F401

pytestmark = [pytest.mark.webapp, pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

GUEST = {
    "email": "guest@example.com",
    "name": "Ada Lovelace",
    "address": "1 Test Street",
    "city": "London",
    "postcode": "SW1A 1AA",
    "country": "GB",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    data = fresh_copy(seeded_template(), tmp_path_factory.mktemp("shop") / "data")
    with start(data, log_path=data.parent / "server.log") as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Any) -> AsyncIterator[Any]:  # noqa: F811
    """A tab in a fresh browser context: its own cookies, so its own empty basket."""
    context = await browser.new_context()
    yield await context.new_page()
    await context.close()


class Shopper:
    """Calls the shop's tools on one tab and checks `observe` against each tool's `ensures`."""

    def __init__(self, page: Any, server: AppServer) -> None:
        self.page = page
        self.server = server
        self.db: Path = server.extra["db"]  # type: ignore[assignment]

    async def __call__(self, tool: str, **kwargs: Any) -> Any:
        before = await self.observe()
        output = await call_tool(shop.site, tool, self.page, self.server.url, **kwargs)
        after = await self.observe()
        for field, pattern in shop.site.tools[tool].contract.ensures.items():
            wanted = kwargs.get(pattern[1:]) if str(pattern).startswith("$") else pattern
            assert matches(wanted, after[field]), f"{tool}: {field}={after[field]!r}, {after}"
        if tool == "add_to_basket":  # a tool that says nothing of the page leaves it as it was
            assert after["page"] == before["page"], (before, after)
        return output

    async def observe(self) -> dict[str, Any]:
        assert shop.site.observer is not None
        return await shop.site.observer(self.page)


@pytest.fixture
def shopper(page: Any, server: AppServer) -> Shopper:
    return Shopper(page, server)


async def test_buy_the_cheapest_cable_in_stock_as_a_guest(shopper: Shopper) -> None:
    await shopper("go_home")
    assert await shopper.observe() == {"page": "home", "product": None, "basket": "empty"}
    await shopper("open_category", name="Cables")
    listed = await shopper("list_products")
    facts = {p["title"]: p for p in products(shopper.db, "Cables")}
    assert {p.title for p in listed} == set(facts)
    for product in listed:
        assert product.price == facts[product.title]["price"], product
        assert product.in_stock == facts[product.title]["in_stock"], product
    best = min((p for p in listed if p.in_stock), key=lambda p: p.price)
    assert best.title == cheapest_in_stock(shopper.db, "Cables")
    assert best.title != min(listed, key=lambda p: p.price).title, "the task must discriminate"
    placed_before = len(orders(shopper.db))
    await shopper("add_to_basket", title=best.title)
    assert (await shopper.observe())["basket"] == "full"
    lines = await shopper("view_basket")
    assert [(line.title, line.quantity, line.price) for line in lines] == [
        (best.title, 1, best.price)
    ]
    order = await shopper("checkout", **GUEST)
    assert await shopper.observe() == {"page": "done", "product": None, "basket": "empty"}
    placed = orders(shopper.db)
    assert len(placed) == placed_before + 1
    assert placed[-1]["number"] == order.number
    assert placed[-1]["guest_email"] == GUEST["email"]
    assert placed[-1]["total_incl_tax"] == order.total == best.price
    assert placed[-1]["lines"] == [{"title": best.title, "quantity": 1, "upc": "UPC00016"}]


async def test_details_of_eight_books_match_the_catalogue(shopper: Shopper) -> None:
    await shopper("open_category", name="Books")
    listed = await shopper("list_products")
    facts = {p["title"]: p for p in products(shopper.db, "Books")}
    assert len(listed) == len(facts) >= 10
    for product in listed[:8]:
        details = await shopper("product_details", title=product.title)
        fact = facts[product.title]
        assert details.title == product.title
        assert (details.price, details.in_stock) == (fact["price"], fact["in_stock"])
        assert (details.upc, details.description) == (fact["upc"], fact["description"])
        assert details.upc.startswith("978")


class Visits:
    """A page that records where `goto` was sent (everything else passes through)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.visited: list[str] = []

    async def goto(self, url: str, timeout_s: float = 10.0) -> None:
        self.visited.append(url)
        await self.page.goto(url, timeout_s)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.page, name)


async def test_details_on_a_fresh_tab_open_a_product_this_run_has_listed(
    browser: Any,  # noqa: F811
    server: AppServer,
) -> None:
    details = shop.site.tools["product_details"].fn
    context = await browser.new_context()
    try:
        run = SiteBinding.of(shop.site, server.url)
        listing = SitePage(await context.new_page(), run)
        await shop.site.tools["open_category"].fn(listing, name="Books")
        listed = await shop.site.tools["list_products"].fn(listing)
        fresh = Visits(SitePage(await context.new_page(), run))
        found = await details(fresh, title=listed[3].title)
        assert found.title == listed[3].title and fresh.visited == [listed[3].url]
        # Another run knows nothing of this one's listing: it searches first.
        other = Visits(SitePage(await context.new_page(), SiteBinding.of(shop.site, server.url)))
        await details(other, title=listed[3].title)
        assert other.visited[0].startswith("/search/?") and len(other.visited) == 2
        # A remembered URL that shows another product is forgotten and the title searched for.
        run.memo["product_urls"][listed[4].title] = listed[5].url
        stale = Visits(SitePage(await context.new_page(), run))
        assert (await details(stale, title=listed[4].title)).title == listed[4].title
        assert stale.visited[0] == listed[5].url and stale.visited[1].startswith("/search/?")
    finally:
        await context.close()


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("Electronics > Cables", "Cables"),
        ("books > fiction", "Books > Fiction"),
        ("Electronics", "Electronics"),
        ("Kitchen", "Home > Kitchen"),
    ],
)
async def test_categories_open_by_name_or_path(shopper: Shopper, name: str, category: str) -> None:
    await shopper("search", query="cable")  # a page without the category tree
    await shopper("open_category", name=name)
    listed = await shopper("list_products")
    assert {p.title for p in listed} == {p["title"] for p in products(shopper.db, category)}


async def test_unknown_category_and_wrong_page_fail_clearly(shopper: Shopper) -> None:
    await shopper("go_home")
    with pytest.raises(ShopError, match=r"no category 'Spaceships'.*Electronics > Cables"):
        await shopper("open_category", name="Spaceships")
    await shopper("product_details", title="HDMI cable")
    with pytest.raises(ShopError, match="expected a category or search page"):
        await shopper("list_products")
    with pytest.raises(ShopError, match="no product titled 'No Such Thing'"):
        await shopper("product_details", title="No Such Thing")


async def test_out_of_stock_products_cannot_be_added(shopper: Shopper) -> None:
    await shopper("open_category", name="Cables")
    with pytest.raises(ShopError, match="out of stock"):
        await shopper("add_to_basket", title="Micro-USB Cable 0.5m")
    assert (await shopper.observe())["basket"] == "empty"
    with pytest.raises(ShopError, match="cannot check out"):
        await shopper("checkout", **GUEST)


async def test_add_from_product_page_search_and_elsewhere(shopper: Shopper) -> None:
    await shopper("product_details", title="HDMI cable")
    await shopper("add_to_basket", title="HDMI cable", quantity=2)
    await shopper("search", query="usb")
    here = await shopper.page.url()
    await shopper("add_to_basket", title="Mouse pad")  # not on this listing: found by search
    assert await shopper.page.url() == here
    lines = await shopper("view_basket")
    assert {(line.title, line.quantity) for line in lines} == {("HDMI cable", 2), ("Mouse pad", 1)}
    open_lines = {(line["title"], line["quantity"]) for line in basket_lines(shopper.db)}
    assert {("HDMI cable", 2), ("Mouse pad", 1)} <= open_lines


async def test_checkout_reports_a_rejected_email_or_postcode(shopper: Shopper) -> None:
    await shopper("search", query="chess")
    await shopper("add_to_basket", title="Pocket Chess Set")
    placed_before = len(orders(shopper.db))
    with pytest.raises(ShopError, match=r"username: .*'@'"):  # the browser's own validation
        await shopper("checkout", **{**GUEST, "email": "not-an-email"})
    with pytest.raises(ShopError, match=r"shipping address was not accepted.*postcode"):
        await shopper("checkout", **{**GUEST, "postcode": "NOT A POSTCODE"})
    assert len(orders(shopper.db)) == placed_before


async def test_search_lists_only_catalogue_products(shopper: Shopper) -> None:
    await shopper("search", query="headphones")
    listed = await shopper("list_products")
    titles = {p.title for p in listed}
    assert "Aurora Wireless Headphones" in titles
    assert titles <= {p["title"] for p in products(shopper.db)}
    await shopper("search", query="zzzzqqq")
    assert await shopper("list_products") == []
