"""The shop site, shaped after django-oscar's storefront (catalogue, product, basket, checkout).

Declarations only for now: the signatures and effects the compiler types programs against. The
implementations against `Page`, and the contracts on the abstract page state, come with the tool
protocol and runtime issues.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentjit.tools import Page, Site

site = Site(
    "shop",
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


@site.tool(navigates=True, idempotent=True)
async def go_home(page: Page) -> None:
    """Open the shop's home page."""


@site.tool(navigates=True, idempotent=True)
async def open_category(page: Page, name: str) -> None:
    """Open a category page by its name, e.g. "Cables" or "Books > Fiction"."""


@site.tool(navigates=True, idempotent=True)
async def search(page: Page, query: str) -> None:
    """Search the catalogue; the results page lists matching products."""


@site.tool(reads_page=True, idempotent=True)
async def list_products(page: Page) -> list[Product]:
    """The products listed on the current category or search page."""


@site.tool(navigates=True, reads_page=True, idempotent=True)
async def product_details(page: Page, title: str) -> ProductDetails:
    """Open a product's page and read its details."""


@site.tool(navigates=True, writes=("basket",), commutative=True)
async def add_to_basket(page: Page, title: str, quantity: int = 1) -> None:
    """Put a product into the basket."""


@site.tool(navigates=True, reads_page=True, idempotent=True)
async def view_basket(page: Page) -> list[BasketLine]:
    """Open the basket and read its lines."""


@site.tool(navigates=True, writes=("basket", "orders"))
async def checkout(
    page: Page, email: str, name: str, address: str, city: str, postcode: str, country: str = "GB"
) -> Order:
    """Check out the basket as a guest; returns the order number and total."""
