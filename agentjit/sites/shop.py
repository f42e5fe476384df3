"""The shop site, shaped after django-oscar's storefront (catalogue, product, basket, checkout).

The abstract state: which kind of page the tab shows, which product page is open, and whether
the basket holds anything. Contracts follow Oscar's UI: product listings exist on category and
search pages; "Add to basket" buttons sit on listings and product pages; checkout needs a
non-empty basket. Product titles must come from a listing or a product page (a made-up title
names no product). The tool bodies against `Page` come with the runtime issue.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentjit.tools import ANY, Enum, Page, Site, State, Text

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


@site.tool(navigates=True, idempotent=True, ensures={"page": "home"})
async def go_home(page: Page) -> None:
    """Open the shop's home page."""


@site.tool(navigates=True, idempotent=True, ensures={"page": "category"})
async def open_category(page: Page, name: str) -> None:
    """Open a category page by its name, e.g. "Cables" or "Books > Fiction"."""


@site.tool(navigates=True, idempotent=True, ensures={"page": "search"})
async def search(page: Page, query: str) -> None:
    """Search the catalogue; the results page lists matching products."""


@site.tool(reads_page=True, idempotent=True, requires={"page": LISTINGS})
async def list_products(page: Page) -> list[Product]:
    """The products listed on the current category or search page."""


@site.tool(
    navigates=True,
    reads_page=True,
    idempotent=True,
    requires_called={"title": "list_products"},
    ensures={"page": "product", "product": "$title"},
)
async def product_details(page: Page, title: str) -> ProductDetails:
    """Open a product's page and read its details."""


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


@site.tool(navigates=True, reads_page=True, idempotent=True, ensures={"page": "basket"})
async def view_basket(page: Page) -> list[BasketLine]:
    """Open the basket and read its lines."""


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
