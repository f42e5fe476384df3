"""The real django-oscar shop: seeded once (cached), copied per module, served on 127.0.0.1.

Pages are fetched with urllib and compared with what the database checkers say, so both the
served shop and the checkers are tested against each other. Slow the first time (~30 s seed).
"""

from __future__ import annotations

import html
import http.cookiejar
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentjit.webapps import AppError, AppServer
from agentjit.webapps.oscar import (
    basket_lines,
    cheapest_in_stock,
    fresh_copy,
    orders,
    products,
    seeded_template,
    start,
)
from agentjit.webapps.oscar import catalogue as catalogue_module

pytestmark = pytest.mark.webapp

POD = re.compile(r'<article class="product_pod">(.*?)</article>', re.S)


@pytest.fixture(scope="session")
def template() -> Path:
    return seeded_template()


@pytest.fixture(scope="module")
def shop(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    data = fresh_copy(template, tmp_path_factory.mktemp("oscar") / "data")
    with start(data, log_path=data.parent / "server.log") as server:
        yield server


def fetch(shop: AppServer, path: str, opener: urllib.request.OpenerDirector | None = None) -> str:
    with (opener or urllib.request.build_opener()).open(shop.url + path, timeout=30) as response:
        assert response.status == 200, f"{path}: HTTP {response.status}"
        return response.read().decode()


def listed(page: str) -> dict[str, dict[str, object]]:
    """The product cards of a listing page: title -> price, in_stock, buyable, url."""
    cards = {}
    for pod in POD.findall(page):
        link = re.search(r'<h3[^>]*>\s*<a href="([^"]+)" title="([^"]+)"', pod)
        price = re.search(r'class="price_color">\s*£([\d,.]+)', pod)
        assert link and price, f"a product card without a title link or price:\n{pod[:500]}"
        cards[html.unescape(link.group(2))] = {
            "url": link.group(1),
            "price": float(price.group(1).replace(",", "")),
            "in_stock": "instock availability" in pod,
            "buyable": "/basket/add/" in pod,
        }
    return cards


def category_url(page: str, name: str) -> str:
    links = re.findall(r'<a href="(/catalogue/category/[^"]+)">\s*(?:<strong>)?([^<]+?)\s*<', page)
    found = {html.unescape(text): href for href, text in links}
    assert name in found, f"no category link {name!r} among {sorted(found)}"
    return found[name]


def test_home_redirects_to_the_full_listing(shop: AppServer) -> None:
    with urllib.request.urlopen(shop.url + "/", timeout=30) as response:
        page = response.read().decode()
        assert urllib.parse.urlsplit(response.url).path == "/catalogue/"
    cards = listed(page)
    assert set(cards) == {p["title"] for p in products(shop.extra["db"])}
    assert "ajax.googleapis.com" not in page, "pages must not load scripts from off the machine"


@pytest.mark.parametrize("name", ["Cables", "Books", "Electronics", "Kitchen", "Games"])
def test_category_page_lists_what_the_database_holds(shop: AppServer, name: str) -> None:
    # With Haystack's "simple" backend category pages list nothing; Whoosh must be in use.
    url = category_url(fetch(shop, "/catalogue/"), name)
    cards = listed(fetch(shop, url))
    expected = {p["title"]: p for p in products(shop.extra["db"], name)}
    assert set(cards) == set(expected), url
    for title, card in cards.items():
        assert card["price"] == expected[title]["price"], title
        assert card["in_stock"] == expected[title]["in_stock"], title
        assert card["buyable"] == expected[title]["in_stock"], title


def test_catalogue_shape_supports_the_example_tasks(shop: AppServer) -> None:
    db = shop.extra["db"]
    cables = products(db, "Electronics > Cables")
    cheapest = min(cables, key=lambda p: p["price"])
    assert not cheapest["in_stock"], "the cheapest cable must be out of stock"
    assert cheapest_in_stock(db, "Cables") != cheapest["title"]
    assert cheapest_in_stock(db, "Cables") == "Lightning Cable 1m"
    assert len(products(db, "Books")) >= 10
    everything = products(db)
    assert 35 <= len(everything) <= 60
    assert len({p["title"] for p in everything}) == len(everything)
    assert sum(not p["in_stock"] for p in everything) >= 3
    assert all(p["upc"] and p["description"] and p["price"] for p in everything)
    with pytest.raises(LookupError, match="no category 'Spaceships'"):
        products(db, "Spaceships")


def test_catalogue_generator_is_deterministic() -> None:
    assert catalogue_module.csv_text() == catalogue_module.csv_text()
    assert catalogue_module.csv_text(seed=1) != catalogue_module.csv_text()


def test_product_page_shows_the_checked_facts(shop: AppServer) -> None:
    db = shop.extra["db"]
    url = category_url(fetch(shop, "/catalogue/"), "Cables")
    cards = listed(fetch(shop, url))
    for fact in products(db, "Cables"):
        page = fetch(shop, str(cards[fact["title"]]["url"]))
        assert f"<h1>{html.escape(fact['title'])}</h1>" in page
        assert f"<th>UPC</th><td>{fact['upc']}</td>" in page
        assert f"£{fact['price']:.2f}" in page
        assert html.escape(fact["description"]) in page
        assert ('id="add_to_basket_form"' in page) == fact["in_stock"], fact["title"]


def test_search_finds_products_by_title_words(shop: AppServer) -> None:
    cards = listed(fetch(shop, "/search/?q=headphones"))
    assert "Aurora Wireless Headphones" in cards
    assert set(cards) <= {p["title"] for p in products(shop.extra["db"])}
    assert listed(fetch(shop, "/search/?q=zzzzqqq")) == {}


def test_basket_add_shows_up_in_the_open_basket_checker(shop: AppServer) -> None:
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    cards = listed(fetch(shop, "/search/?q=hdmi", opener))
    page = fetch(shop, str(cards["HDMI cable"]["url"]), opener)
    action = re.search(r'id="add_to_basket_form" action="([^"]+)"', page)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert action and token
    before = len(basket_lines(shop.extra["db"]))
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), "quantity": "2"})
    request = urllib.request.Request(
        shop.url + action.group(1), data=form.encode(), headers={"Referer": shop.url + "/"}
    )
    with opener.open(request, timeout=30) as response:
        assert re.search(
            r"HDMI cable</strong>\s+have been added to your basket", response.read().decode()
        )
    lines = basket_lines(shop.extra["db"])
    assert len(lines) == before + 1
    assert lines[-1]["title"] == "HDMI cable"
    assert lines[-1]["quantity"] == 2
    assert lines[-1]["owner"] is None
    assert orders(shop.extra["db"]) == [], "adding to a basket places no order"


def test_start_serves_a_copy_and_stop_ends_its_process_group(
    template: Path, tmp_path: Path
) -> None:
    data = fresh_copy(template, tmp_path / "data")
    began = time.monotonic()
    server = start(data)
    startup = time.monotonic() - began
    try:
        assert server.extra["db"] == data.resolve() / "db.sqlite3"
        assert startup < 30, f"the shop took {startup:.1f} s to answer"
        assert "product_pod" in fetch(server, "/catalogue/")
    finally:
        server.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(server.process.pid, 0)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url + "/catalogue/", timeout=2)


def test_template_is_cached_and_copies_are_guarded(template: Path, tmp_path: Path) -> None:
    began = time.monotonic()
    assert seeded_template() == template
    assert time.monotonic() - began < 2, "a cached template must not be seeded again"
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with pytest.raises(AppError, match="not empty"):
        fresh_copy(template, tmp_path / "busy")
    with pytest.raises(AppError, match=r"no db\.sqlite3"):
        start(tmp_path / "busy")
    half = tmp_path / "half"
    shutil.copytree(template, half)
    (half / "seed.json").unlink()
    with pytest.raises(AppError, match="not a finished seed"):
        fresh_copy(half, tmp_path / "dest")
