"""The shop site, shaped after django-oscar's storefront (catalogue, product, basket, checkout).

The abstract state: which kind of page the tab shows, which product page is open, and whether
the basket holds anything. Contracts follow Oscar's UI: product listings exist on category and
search pages; "Add to basket" buttons sit on listings and product pages; checkout needs a
non-empty basket. Product titles must come from a listing or a product page (a made-up title
names no product).

The bodies drive django-oscar 4.2's default storefront (see `agentjit.webapps.oscar` for a
seeded instance). They navigate by relative paths, which the runtime resolves against the
site's base URL, and read a page's data in one `evaluate` returning JSON. Elements are found by
Oscar's ids, classes and form actions, never by position. Category URLs embed primary keys, so
`open_category` finds them in the page's category links instead of building them. `observe`
maps "/" and "/catalogue/" (the full listing "/" redirects to) to "home", the checkout steps
before the thank-you page to "basket", and any other page to "home".

Every listing read and product page opened adds title -> product URL to the run's memo
(`SitePage.memo`: one run, one site), so `product_details` on a tab that shows no listing (a
freshly forked one) opens the product's page directly instead of searching for it first. A
remembered URL that no longer shows the product is forgotten and the title searched for.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from agentjit.tools import ANY, Enum, Page, PageError, Site, State, Text

PAGES = ("home", "category", "search", "product", "basket", "done")
LISTINGS = frozenset({"category", "search"})

site = Site(
    "shop",
    state=State(page=Enum(*PAGES), product=Text(), basket=Enum("empty", "full")),
    session_fields=("basket",),
    base_url="http://127.0.0.1:8001",
    version="1",
    doc="An online shop: browse categories, search, product pages, basket, checkout.",
)


class ShopError(RuntimeError):
    """The shop did not show what a tool expected (a missing product, an empty basket)."""


@dataclass(frozen=True)
class Product:
    title: str
    price: float
    in_stock: bool
    url: str


@dataclass(frozen=True)
class ProductDetails:
    title: str
    price: float
    in_stock: bool
    upc: str
    description: str


@dataclass(frozen=True)
class BasketLine:
    title: str
    quantity: int
    price: float


@dataclass(frozen=True)
class Order:
    number: str
    total: float


SUBMIT_TIMEOUT_S = 10.0
STALE = "data-shop-submitted"  # marks a submitted document until the next page replaces it
CHECKOUT_STEPS = 8  # at most this many pages between the gateway and the thank-you page

# Which page the tab shows, in one round trip. The mini basket in the header lists the basket's
# lines as product links; checkout pages have no header and say nothing about the basket there.
OBSERVE_JS = """(() => {
  const mini = document.querySelector('ul.basket-mini-item');
  const h1 = document.querySelector('article.product_page .product_main h1');
  return {path: location.pathname, product: h1 ? h1.textContent.trim() : null,
          mini: !!mini, miniFull: !!(mini && mini.querySelector('a[href]'))};
})()"""

# The product cards of a listing. A card is buyable when it carries a basket form: Oscar omits
# the form when the stock left after allocations is zero.
LISTING_JS = """(() => [...document.querySelectorAll('article.product_pod')].map((pod) => {
  const link = pod.querySelector('h3 a[title]');
  const form = pod.querySelector('form[action*="/basket/add/"]');
  return {
    title: link ? link.getAttribute('title') : '',
    url: link ? link.getAttribute('href') : '',
    price: (pod.querySelector('.price_color') || {}).textContent || '',
    action: form ? form.getAttribute('action') : null,
  };
}))()"""

# Category links with their full path: the sidebar tree (nested lists), the top-level menu and
# a product's breadcrumbs, whichever the page has.
CATEGORIES_JS = """(() => {
  const found = [];
  const name = (a) => a.textContent.replace(/\\s+/g, ' ').trim();
  for (const a of document.querySelectorAll('.side_categories a[href*="/catalogue/category/"]')) {
    const parts = [];
    for (let li = a.closest('li'); li; li = li.parentElement.closest('li')) {
      const own = li.querySelector(':scope > a');
      if (own) parts.unshift(name(own));
    }
    found.push({path: parts, href: a.getAttribute('href')});
  }
  for (const a of document.querySelectorAll('a.dropdown-item[href*="/catalogue/category/"]'))
    found.push({path: [name(a)], href: a.getAttribute('href')});
  const crumbs = [...document.querySelectorAll('.breadcrumb a[href*="/catalogue/category/"]')];
  crumbs.forEach((a, i) => found.push({
    path: crumbs.slice(0, i + 1).map(name), href: a.getAttribute('href')}));
  return {links: found, tree: !!document.querySelector('.side_categories'),
          menu: !!document.querySelector('a.dropdown-item[href*="/catalogue/category/"]')};
})()"""

DETAILS_JS = """(() => {
  const main = document.querySelector('article.product_page');
  if (!main) return null;
  const text = (sel) => ((main.querySelector(sel) || {}).textContent || '').trim();
  const upc = [...main.querySelectorAll('table tr')]
    .find((tr) => (tr.querySelector('th') || {}).textContent === 'UPC');
  const description = main.querySelector('#product_description + p');
  return {
    title: text('.product_main h1'),
    price: text('.product_main .price_color'),
    buyable: !!main.querySelector('#add_to_basket_form'),
    upc: upc ? upc.querySelector('td').textContent.trim() : '',
    description: description ? description.textContent.trim() : '',
  };
})()"""

BASKET_JS = """(() => {
  const form = document.querySelector('#basket_formset');
  if (!form) return [];
  return [...form.querySelectorAll('.basket-items')].map((item) => ({
    title: ((item.querySelector('h3 a') || {}).textContent || '').trim(),
    quantity: (item.querySelector('input[name$="-quantity"]') || {}).value || '0',
    price: (item.querySelector('.price_color') || {}).textContent || '',
  }));
})()"""

# The order number and total on the thank-you page.
ORDER_JS = """(() => {
  const number = document.querySelector('p.lead strong');
  const row = [...document.querySelectorAll('tr')].find((tr) => /Order total/.test(tr.textContent));
  return {number: number ? number.textContent.trim() : '',
          total: row ? (row.querySelector('.price_color') || row).textContent : ''};
})()"""

# What the shop says went wrong: error messages and form field errors.
PROBLEM_JS = """(() => [...document.querySelectorAll(
    '#messages .alert-danger .alertinner, #messages .alert-warning .alertinner,'
    + ' form .alert-danger, .error-block')]
  .map((el) => el.textContent.replace(/\\s+/g, ' ').trim())
  .filter((t) => t).join(' | '))()"""

# Stamp the document before a submit, and say which fields the browser's own validation rejects.
PREPARE_SUBMIT_JS = """(selector) => {
  document.documentElement.setAttribute('STALE', '');
  const form = (document.querySelector(selector) || {}).form;
  if (!form || form.checkValidity()) return '';
  return [...form.elements].filter((el) => el.willValidate && !el.validity.valid)
    .map((el) => `${el.name}: ${el.validationMessage}`).join('; ');
}""".replace("STALE", STALE)

MESSAGES_JS = """[...document.querySelectorAll('#messages .alertinner')]
  .map((el) => el.textContent.replace(/\\s+/g, ' ').trim())"""


def _price(text: str) -> float:
    """£1,234.50 -> 1234.5; raises ShopError when there is no amount."""
    match = re.search(r"\d[\d,]*(?:\.\d+)?", text or "")
    if match is None:
        raise ShopError(f"expected a price, found {text!r}")
    return float(match.group(0).replace(",", ""))


def _page_kind(path: str, product_title: str | None) -> str:
    if path in ("/", "/catalogue/"):
        return "home"
    if path.startswith("/catalogue/category/"):
        return "category"
    if path.startswith("/search/"):
        return "search"
    if product_title is not None and re.fullmatch(r"/catalogue/[^/]+_\d+/", path):
        return "product"
    if path == "/checkout/thank-you/":
        return "done"
    if path.startswith(("/basket/", "/checkout/")):
        return "basket"
    return "home"


def _basket_state(state: dict[str, Any], kind: str) -> str:
    if state.get("mini"):
        return "full" if state.get("miniFull") else "empty"
    if kind == "done":
        return "empty"  # the order took the basket; a new one is empty
    # Checkout steps have no mini basket, and Oscar sends an empty basket back to /basket/.
    return "full" if kind == "basket" else "empty"


async def _state(page: Page) -> dict[str, Any]:
    found = await page.evaluate(OBSERVE_JS)
    if not isinstance(found, dict):
        raise ShopError(f"cannot read the page state at {await page.url()}: got {found!r}")
    return found


@site.observe
async def observe(page: Page) -> dict[str, Any]:
    """The abstract state read from the live page: page kind, open product, basket."""
    state = await _state(page)
    kind = _page_kind(str(state.get("path") or "/"), state.get("product"))
    return {
        "page": kind,
        "product": state.get("product") if kind == "product" else None,
        "basket": _basket_state(state, kind),
    }


async def _problem(page: Page) -> str:
    """The shop's own words for what went wrong on this page, or where the page is."""
    said = await page.evaluate(PROBLEM_JS)
    return f"the page says {said!r}" if said else f"the page is {await page.url()}"


async def _submit(page: Page, selector: str) -> None:
    """Click a button that loads a new page, and wait (bounded) until that page is there.

    The old document is stamped first: a backend whose click returns before a form's POST and
    redirect finish would otherwise let the next read see the old page.
    """
    invalid = await page.evaluate(f"({PREPARE_SUBMIT_JS})({json.dumps(selector)})")
    if invalid:  # the browser would refuse to submit; say why instead of waiting
        raise ShopError(f"the form of {selector} is not valid: {invalid}")
    await page.click(selector, timeout_s=SUBMIT_TIMEOUT_S)
    try:
        await page.wait_for(f"html:not([{STALE}]) body", timeout_s=SUBMIT_TIMEOUT_S)
    except PageError as e:
        raise ShopError(
            f"clicking {selector} did not load a new page in {SUBMIT_TIMEOUT_S:.0f} s; "
            + await _problem(page)
        ) from e


async def _kind(page: Page) -> str:
    return (await observe(page))["page"]


def _product_urls(page: Page) -> dict[str, str]:
    """Title -> product URL seen in this run (a throwaway dict when the page has no memo)."""
    memo = getattr(page, "memo", None)
    return memo.setdefault("product_urls", {}) if isinstance(memo, dict) else {}


async def _listing(page: Page) -> list[dict[str, Any]]:
    cards = await page.evaluate(LISTING_JS)
    if not isinstance(cards, list):
        raise ShopError(f"cannot read the product listing at {await page.url()}: got {cards!r}")
    known = _product_urls(page)
    for card in cards:
        if card["title"] and card["url"]:
            known[card["title"]] = card["url"]
    return cards


async def _card(page: Page, title: str) -> dict[str, Any] | None:
    """The listing card titled `title` on this page, or after searching for the title."""
    if await _kind(page) in LISTINGS | {"home"}:
        card = next((c for c in await _listing(page) if c["title"] == title), None)
        if card is not None:
            return card
    await search(page, title)
    return next((c for c in await _listing(page) if c["title"] == title), None)


@site.tool(navigates=True, idempotent=True, ensures={"page": "home"})
async def go_home(page: Page) -> None:
    """Open the shop's home page."""
    await page.goto("/")
    if await _kind(page) != "home":
        raise ShopError(f"expected the shop's home page after opening /; {await _problem(page)}")


def _category_names(name: str) -> list[str]:
    return [part.strip().casefold() for part in name.split(">") if part.strip()]


def _find_category(links: list[dict[str, Any]], name: str) -> str | None:
    """The href of the category `name` names ("Cables", "Electronics > Cables"), if listed."""
    wanted = _category_names(name)
    exact, suffix = set(), set()
    for link in links:
        path = [part.casefold() for part in link["path"]]
        if path == wanted:
            exact.add(link["href"])
        elif path[-len(wanted) :] == wanted:
            suffix.add(link["href"])
    hits = exact or suffix
    if len(hits) > 1:
        raise ShopError(f"category {name!r} is ambiguous: it matches {sorted(hits)}")
    return next(iter(hits), None)


MENU_PAGE = "/offers/"
"""A light page whose header menu lists the top-level categories. The full listing's sidebar
holds the whole tree, but rendering every product takes it seconds; a category page's sidebar
holds the whole tree too."""


async def _categories(page: Page) -> dict[str, Any]:
    """The category links on this page and those seen earlier in the run, and whether this
    page shows the whole tree."""
    found = await page.evaluate(CATEGORIES_JS)
    memo = getattr(page, "memo", None)
    if isinstance(memo, dict):
        seen = memo.setdefault("category_links", [])
        seen.extend(link for link in found["links"] if link not in seen)
        return {**found, "links": list(seen)}
    return found


async def _category_href(page: Page, name: str) -> tuple[str | None, list[dict[str, Any]]]:
    """The href of category `name` and the links looked at: from this page (or the run's
    memo), else the top-level menu, else a page with the whole tree."""
    found = await _categories(page)
    href = _find_category(found["links"], name)
    if href is not None or found["tree"]:
        return href, found["links"]
    if not found["menu"]:
        await page.goto(MENU_PAGE)
        found = await _categories(page)
        href = _find_category(found["links"], name)
    if href is None:
        wanted = _category_names(name)
        parent = _find_category(found["links"], wanted[0]) if len(wanted) > 1 else None
        await page.goto(parent or "/catalogue/")
        found = await _categories(page)
        href = _find_category(found["links"], name)
    return href, found["links"]


@site.tool(navigates=True, idempotent=True, ensures={"page": "category"})
async def open_category(page: Page, name: str) -> None:
    """Open a category page by its name, e.g. "Cables" or "Books > Fiction"."""
    if not _category_names(name):
        raise ShopError(f"expected a category name, got {name!r}")
    href, links = await _category_href(page, name)
    if href is None:
        known = sorted({" > ".join(link["path"]) for link in links})
        raise ShopError(f"no category {name!r} in the shop; it has {known}")
    await page.goto(href)
    heading = await page.text(".page-header h1")
    if await _kind(page) != "category" or heading.casefold() != _category_names(name)[-1]:
        raise ShopError(f"expected the page of category {name!r}, found {heading!r} at {href}")


@site.tool(navigates=True, idempotent=True, ensures={"page": "search"})
async def search(page: Page, query: str) -> None:
    """Search the catalogue; the results page lists matching products."""
    await page.goto("/search/?" + urllib.parse.urlencode({"q": query}))
    if await _kind(page) != "search":
        raise ShopError(f"expected search results for {query!r}; {await _problem(page)}")


@site.tool(reads_page=True, idempotent=True, requires={"page": LISTINGS})
async def list_products(page: Page) -> list[Product]:
    """The products listed on the current category or search page."""
    kind = await _kind(page)
    if kind not in LISTINGS | {"home"}:
        raise ShopError(f"expected a category or search page to list, found a {kind} page")
    return [
        Product(card["title"], _price(card["price"]), card["action"] is not None, card["url"])
        for card in await _listing(page)
    ]


@site.tool(
    navigates=True,
    reads_page=True,
    idempotent=True,
    requires_called={"title": "list_products"},
    ensures={"page": "product", "product": "$title"},
)
async def product_details(page: Page, title: str) -> ProductDetails:
    """Open a product's page and read its details."""
    state = await _state(page)
    known = _product_urls(page)
    details = None
    if state.get("product") == title:
        details = await page.evaluate(DETAILS_JS)
    elif title in known:
        await page.goto(known[title])
        details = await page.evaluate(DETAILS_JS)
        if not details or details["title"] != title:
            del known[title]  # stale: find the product again
            details = None
    if details is None:
        card = await _card(page, title)
        if card is None:
            raise ShopError(f"no product titled {title!r} on the listing or in a search for it")
        await page.goto(card["url"])
        details = await page.evaluate(DETAILS_JS)
    if not details or details["title"] != title:
        found = details["title"] if details else None
        raise ShopError(f"expected the product page of {title!r}, found {found!r}")
    if title not in known:
        known[title] = await page.url()
    return ProductDetails(
        title=title,
        price=_price(details["price"]),
        in_stock=bool(details["buyable"]),
        upc=details["upc"],
        description=details["description"],
    )


async def _add_form(page: Page, title: str) -> str | None:
    """The action of the basket form for `title` on this page, or None if not here."""
    state = await _state(page)
    if state.get("product") == title:
        if not await page.exists("#add_to_basket_form"):
            return ""
        return await page.attribute("#add_to_basket_form", "action")
    card = next((c for c in await _listing(page) if c["title"] == title), None)
    if card is None:
        return None
    return card["action"] or ""


@site.tool(
    navigates=True,
    writes=("basket",),
    commutative=True,
    requires={"page": LISTINGS | {"product"}},
    requires_called={"title": ("list_products", "product_details")},
    ensures={"basket": "full"},
)
async def add_to_basket(page: Page, title: str, quantity: int = 1) -> None:
    """Put a product into the basket."""
    if quantity < 1:
        raise ShopError(f"expected a quantity of at least 1, got {quantity}")
    back = None
    action = await _add_form(page, title)
    if action is None:  # not on this page: add from a search, then return to this page
        back = await page.url()
        await search(page, title)
        action = await _add_form(page, title)
    if action is None:
        raise ShopError(f"no product titled {title!r} on the page or in a search for it")
    if not action:
        raise ShopError(f"{title!r} is out of stock: its page offers no Add to basket button")
    form = f'form[action="{action}"]'
    # The quantity field is hidden (value 1); a WebDriver cannot type into hidden fields.
    field = json.dumps(f'{form} input[name="quantity"]')
    set_quantity = f"(f => f ? ((f.value = '{quantity}'), true) : false)"
    if not await page.evaluate(f"{set_quantity}(document.querySelector({field}))"):
        raise ShopError(f"the basket form of {title!r} has no quantity field at {await page.url()}")
    await _submit(page, f'{form} button[type="submit"]')
    said = " | ".join(await page.evaluate(MESSAGES_JS))
    if "added to your basket" not in said or title not in said:
        raise ShopError(f"expected {title!r} to be added to the basket; the page says {said!r}")
    if back is not None:
        await page.goto(back)


@site.tool(navigates=True, reads_page=True, idempotent=True, ensures={"page": "basket"})
async def view_basket(page: Page) -> list[BasketLine]:
    """Open the basket and read its lines."""
    await page.goto("/basket/")
    if await _kind(page) != "basket":
        raise ShopError(f"expected the basket page; {await _problem(page)}")
    return [
        BasketLine(line["title"], int(line["quantity"]), _price(line["price"]))
        for line in await page.evaluate(BASKET_JS)
    ]


def _split_name(name: str) -> tuple[str, str]:
    # Oscar requires both names; a one-word name fills both.
    parts = name.split()
    if not parts:
        raise ShopError("expected a name for the shipping address, got an empty one")
    return parts[0], " ".join(parts[1:]) or parts[0]


async def _fill_address(
    page: Page, name: str, address: str, city: str, postcode: str, country: str
) -> None:
    first, last = _split_name(name)
    form = "#new_shipping_address"
    fields = {"first_name": first, "last_name": last, "line1": address, "line4": city}
    for field, value in (*fields.items(), ("postcode", postcode)):
        await page.fill(f"{form} #id_{field}", value)
    if await page.exists(f"{form} select#id_country"):  # absent when one country ships
        await page.select(f"{form} select#id_country", country)
    await _submit(page, f'{form} button[type="submit"]')
    if (await page.url()).endswith("/checkout/shipping-address/"):
        raise ShopError(f"the shipping address was not accepted; {await _problem(page)}")


async def _checkout_step(page: Page, path: str, address: tuple[str, ...]) -> None:
    """Move one checkout page forward; raises ShopError on a page checkout cannot pass."""
    if path == "/checkout/shipping-address/":
        await _fill_address(page, *address)
    elif path == "/checkout/shipping-method/":
        await _submit(page, 'form[action*="shipping-method"] button[type="submit"]')
    elif path == "/checkout/payment-details/":
        await _submit(page, "#view_preview")
    elif path == "/checkout/preview/":
        await _submit(page, "#place-order")
    else:
        raise ShopError(f"checkout reached {path}, which it cannot pass; {await _problem(page)}")


async def _guest_gateway(page: Page, email: str) -> None:
    await page.fill("#id_username", email)
    await page.click('input[name="options"][value="anonymous"]')
    await _submit(page, 'form:has(#id_username) button[type="submit"]')
    if urllib.parse.urlsplit(await page.url()).path == "/checkout/":
        raise ShopError(f"the checkout gateway refused {email!r}; {await _problem(page)}")


@site.tool(
    navigates=True,
    writes=("basket", "orders"),
    requires={"basket": "full"},
    ensures={"page": "done", "basket": "empty", "product": ANY},
)
async def checkout(
    page: Page, email: str, name: str, address: str, city: str, postcode: str, country: str = "GB"
) -> Order:
    """Check out the basket as a guest; returns the order number and total."""
    await page.goto("/checkout/")
    path = urllib.parse.urlsplit(await page.url()).path
    if path == "/basket/":
        raise ShopError(f"cannot check out: {await _problem(page)}")
    if await page.exists("#id_username"):  # the gateway; a logged-in customer skips it
        await _guest_gateway(page, email)
    for _ in range(CHECKOUT_STEPS):
        path = urllib.parse.urlsplit(await page.url()).path
        if path == "/checkout/thank-you/":
            break
        await _checkout_step(page, path, (name, address, city, postcode, country))
    else:
        raise ShopError(f"checkout did not reach the thank-you page; it is at {path}")
    placed = await page.evaluate(ORDER_JS)
    if not placed or not placed["number"]:
        raise ShopError(f"the thank-you page names no order number: {json.dumps(placed)}")
    return Order(placed["number"], _price(placed["total"]))
