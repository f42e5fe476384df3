"""The bench shop's made-up catalogue, generated deterministically for `oscar_import_catalogue`.

Each row is `product_class, "Cat > Subcat", upc, title, description, partner, sku, price,
num_in_stock`. Prices and stock levels come from a fixed-seed generator; a few are pinned so
that the tasks the examples pose have a discriminating answer (the cheapest cable is out of
stock, so "the cheapest cable in stock" differs from "the cheapest cable").
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass

SEED = 4242
PARTNER = "Bench Supplies Ltd"
CLASSES = {
    "Books": "Book",
    "Electronics": "Gadget",
    "Home": "Household",
    "Clothing": "Apparel",
    "Games": "Game",
    "Toys": "Toy",
}
PRICE_RANGES = {
    "Books > Fiction": (6.99, 24.99),
    "Books > Computing": (19.99, 54.99),
    "Electronics > Cables": (6.5, 29.99),
    "Electronics > Headphones": (19.99, 249.0),
    "Electronics > Cameras": (59.0, 449.0),
    "Electronics > Accessories": (4.99, 39.99),
    "Home > Kitchen": (6.5, 79.0),
    "Home > Garden": (4.5, 49.0),
    "Clothing > T-Shirts": (7.5, 29.0),
    "Games": (9.99, 59.99),
    "Toys": (4.99, 44.99),
}
STOCK_LEVELS = (0, 2, 5, 12, 40)

# Category path -> (title, a phrase the description builds on).
CATEGORIES: dict[str, list[tuple[str, str]]] = {
    "Books > Fiction": [
        ("The Silent Harbour", "a slow mystery set in a fishing town"),
        ("A Map of Small Rivers", "three generations of a family of ferrymen"),
        ("Winter Orchard", "a novel about a failing apple farm"),
        ("The Glass Lighthouse", "a keeper's diary found a century later"),
        ("Northern Lights Cafe", "short stories from a late-night diner"),
        ("Letters from the Salt Road", "an epistolary road novel"),
    ],
    "Books > Computing": [
        ("Practical SQL Recipes", "queries for everyday reporting"),
        ("Learning Rust Slowly", "ownership explained one chapter at a time"),
        ("Compilers in Plain English", "from parsing to register allocation"),
        ("The Pragmatic Tester", "testing habits that survive deadlines"),
        ("Web Automation Patterns", "scripting browsers without flaky waits"),
        ("Distributed Systems for Busy People", "consensus, clocks and retries"),
    ],
    "Electronics > Cables": [
        ("USB-C to USB-C Cable 1m", "charges laptops up to 100 W"),
        ("USB-C to USB-C Cable 2m", "charges laptops up to 100 W"),
        ("HDMI cable", "carries 4K video at 60 Hz"),
        ("Lightning Cable 1m", "for older phones and tablets"),
        ("Braided USB-A Cable 3m", "a long cable with a nylon jacket"),
        ("Micro-USB Cable 0.5m", "a short cable for small gadgets"),
    ],
    "Electronics > Headphones": [
        ("Aurora Wireless Headphones", "over-ear headphones with noise cancelling"),
        ("Basswave Earbuds", "in-ear headphones with a charging case"),
        ("Studio Monitor Headphones", "wired headphones for mixing"),
        ("Kids Safe Headphones", "volume-limited headphones for children"),
        ("Sport Neckband Earphones", "sweat-proof headphones for running"),
    ],
    "Electronics > Cameras": [
        ("Compact Travel Camera", "a pocket camera with a 10x zoom"),
        ("Mirrorless Starter Kit", "a mirrorless camera with a kit lens"),
        ("Action Camera 4K", "a waterproof camera for helmets and bikes"),
        ("Instant Film Camera", "prints credit-card sized photos"),
    ],
    "Electronics > Accessories": [
        ("USB hub", "four USB-A ports from one USB-C port"),
        ("Mouse pad", "a cloth mouse pad with a stitched edge"),
        ("Laptop Stand", "an aluminium stand that folds flat"),
        ("Webcam Cover Set", "slide covers for laptop cameras"),
    ],
    "Home > Kitchen": [
        ("Cast Iron Skillet 26cm", "a pre-seasoned pan for any hob"),
        ("Bamboo Cutting Board", "a board that is kind to knives"),
        ("Ceramic Teapot 1L", "a teapot with a stainless infuser"),
        ("Chef Knife 20cm", "a stainless steel blade with a wooden handle"),
        ("Silicone Spatula Set", "three heat-proof spatulas"),
    ],
    "Home > Garden": [
        ("Garden Hose 15m", "a kink-free hose with a spray gun"),
        ("Pruning Shears", "bypass shears for stems up to 2cm"),
        ("Terracotta Pot Set", "three pots with saucers"),
        ("Bird Feeder", "a hanging feeder for seeds and nuts"),
    ],
    "Clothing > T-Shirts": [
        ("Plain White T-Shirt", "a heavyweight cotton tee"),
        ("Striped Navy T-Shirt", "a breton-style striped tee"),
        ("Organic Cotton T-Shirt", "a tee made of organic cotton"),
        ("Long Sleeve T-Shirt", "a long-sleeved tee for cooler days"),
    ],
    "Games": [
        ("Harbour Traders Board Game", "a trading game for 2-5 players"),
        ("Pocket Chess Set", "a magnetic travel chess set"),
        ("Mystery Manor Card Game", "a deduction card game for parties"),
        ("Thousand Piece Puzzle", "a jigsaw of a mountain lake"),
    ],
    "Toys": [
        ("Wooden Train Set", "a 40-piece track with two engines"),
        ("Plush Otter", "a soft toy otter, 30cm"),
        ("Kite for Beginners", "a delta kite that flies in light wind"),
        ("Building Blocks Tub", "200 blocks in a storage tub"),
    ],
}

# Pinned (price, num_in_stock) per title, so the cheapest cable is out of stock.
PINNED: dict[str, tuple[str, int]] = {
    "Micro-USB Cable 0.5m": ("3.49", 0),
    "Lightning Cable 1m": ("5.99", 12),
    "HDMI cable": ("8.75", 5),
    "Mirrorless Starter Kit": ("549.00", 2),
    "Kids Safe Headphones": ("14.99", 0),
}


@dataclass(frozen=True)
class Row:
    """One catalogue product, as `oscar_import_catalogue` reads it."""

    product_class: str
    category: str
    upc: str
    title: str
    description: str
    partner: str
    sku: str
    price: str
    num_in_stock: int

    def cells(self) -> list[str]:
        return [
            self.product_class,
            self.category,
            self.upc,
            self.title,
            self.description,
            self.partner,
            self.sku,
            self.price,
            str(self.num_in_stock),
        ]


def rows(seed: int = SEED) -> list[Row]:
    """The whole catalogue, in import order (which fixes the category and product keys)."""
    rng = random.Random(seed)
    out: list[Row] = []
    for category, items in CATEGORIES.items():
        top = category.split(" > ")[0]
        low, high = PRICE_RANGES[category]
        for title, phrase in items:
            n = len(out) + 1
            price = f"{rng.uniform(low, high):.2f}"
            stock = rng.choice(STOCK_LEVELS)
            price, stock = PINNED.get(title, (price, stock))
            out.append(
                Row(
                    product_class=CLASSES[top],
                    category=category,
                    upc=_upc(top, n),
                    title=title,
                    description=f"{title}: {phrase}. A made-up product of the bench shop.",
                    partner=PARTNER,
                    sku=f"SKU{n:05d}",
                    price=price,
                    num_in_stock=stock,
                )
            )
    _check(out)
    return out


def _upc(top: str, n: int) -> str:
    # Books get ISBN-13-like codes (978...), everything else a plain shop code.
    return f"978000000{n:04d}" if top == "Books" else f"UPC{n:05d}"


def _check(catalogue: list[Row]) -> None:
    titles = [r.title for r in catalogue]
    if len(set(titles)) != len(titles):
        raise ValueError("catalogue titles are not unique")
    cables = [r for r in catalogue if r.category.endswith("Cables")]
    cheapest = min(cables, key=lambda r: float(r.price))
    if cheapest.num_in_stock != 0:
        raise ValueError(f"the cheapest cable {cheapest.title!r} should be out of stock")
    if sum(r.num_in_stock == 0 for r in catalogue) < 3:
        raise ValueError("the catalogue needs several out-of-stock products")


def csv_text(seed: int = SEED) -> str:
    """The catalogue as CSV text for `oscar_import_catalogue`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows(seed):
        writer.writerow(row.cells())
    return buf.getvalue()
