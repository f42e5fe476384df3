"""Checkers that read the bench shop's SQLite database directly (read-only), not through the UI.

They answer "did the task happen?" from the app's own state: orders placed, what sits in open
baskets, prices and stock. Prices are floats rounded to pennies; category paths read like the
catalogue's breadcrumbs ("Electronics > Cables").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

_STEP = 4  # treebeard's materialised-path step: a category's parent is path[:-4]


@contextmanager
def _read(db: Path) -> Iterator[sqlite3.Connection]:
    path = Path(db).resolve()
    if not path.exists():
        raise FileNotFoundError(f"no shop database at {path}")
    with closing(sqlite3.connect(path.as_uri() + "?mode=ro", uri=True, timeout=10)) as conn:
        conn.row_factory = sqlite3.Row
        yield conn


def _money(value: Any) -> float:
    return round(float(value), 2)


def orders(db: Path) -> list[dict[str, Any]]:
    """Every placed order, oldest first: number, guest_email, total_incl_tax, status, lines.

    Each line is {"title", "quantity", "upc"}.
    """
    with _read(db) as conn:
        heads = conn.execute(
            "SELECT id, number, guest_email, total_incl_tax, status FROM order_order ORDER BY id"
        ).fetchall()
        lines = conn.execute(
            "SELECT order_id, title, quantity, upc FROM order_line ORDER BY id"
        ).fetchall()
    by_order: dict[int, list[dict[str, Any]]] = {}
    for line in lines:
        entry = {"title": line["title"], "quantity": line["quantity"], "upc": line["upc"]}
        by_order.setdefault(line["order_id"], []).append(entry)
    return [
        {
            "number": head["number"],
            "guest_email": head["guest_email"],
            "total_incl_tax": _money(head["total_incl_tax"]),
            "status": head["status"],
            "lines": by_order.get(head["id"], []),
        }
        for head in heads
    ]


def basket_lines(db: Path, status: str = "Open") -> list[dict[str, Any]]:
    """Lines of baskets in `status` ("Open" by default), oldest basket first.

    Each line is {"basket", "owner" (email, or None for an anonymous basket), "title",
    "quantity", "price_incl_tax"}.
    """
    with _read(db) as conn:
        rows = conn.execute(
            """
            SELECT b.id AS basket, u.email AS owner, p.title, l.quantity, l.price_incl_tax
            FROM basket_line l
            JOIN basket_basket b ON b.id = l.basket_id
            JOIN catalogue_product p ON p.id = l.product_id
            LEFT JOIN auth_user u ON u.id = b.owner_id
            WHERE b.status = ?
            ORDER BY b.id, l.id
            """,
            (status,),
        ).fetchall()
    return [{**dict(row), "price_incl_tax": _money(row["price_incl_tax"])} for row in rows]


def products(db: Path, category: str | None = None) -> list[dict[str, Any]]:
    """The catalogue's products (of `category` and its subcategories if given), by title.

    `category` is a category name ("Cables") or a path ending in one ("Electronics > Cables"),
    matched as the shop's category pages do. Each product is {"title", "price", "num_in_stock",
    "num_allocated", "in_stock" (stock left after allocations), "upc", "category",
    "description"}. Raises LookupError for a category the shop does not have.
    """
    with _read(db) as conn:
        paths = _category_paths(conn)
        rows = conn.execute(
            """
            SELECT p.title, p.upc, p.description, c.path AS node, s.price,
                   s.num_in_stock, COALESCE(s.num_allocated, 0) AS num_allocated
            FROM catalogue_product p
            JOIN catalogue_productcategory pc ON pc.product_id = p.id
            JOIN catalogue_category c ON c.id = pc.category_id
            LEFT JOIN partner_stockrecord s ON s.product_id = p.id
            ORDER BY p.title
            """
        ).fetchall()
    wanted = _matching_nodes(paths, category) if category is not None else None
    return [
        _product(row, paths[row["node"]])
        for row in rows
        if wanted is None or any(row["node"].startswith(node) for node in wanted)
    ]


def _category_paths(conn: sqlite3.Connection) -> dict[str, str]:
    names = dict(conn.execute("SELECT path, name FROM catalogue_category").fetchall())
    return {
        node: " > ".join(names[node[:end]] for end in range(_STEP, len(node) + 1, _STEP))
        for node in names
    }


def _matching_nodes(paths: dict[str, str], category: str) -> list[str]:
    name = " > ".join(part.strip() for part in category.split(">"))
    nodes = [node for node, full in paths.items() if full == name or full.endswith(" > " + name)]
    if not nodes:
        raise LookupError(f"no category {category!r}; the shop has {sorted(paths.values())}")
    return nodes


def _product(row: sqlite3.Row, category: str) -> dict[str, Any]:
    stock = row["num_in_stock"] or 0
    return {
        "title": row["title"],
        "price": _money(row["price"]) if row["price"] is not None else None,
        "num_in_stock": stock,
        "num_allocated": row["num_allocated"],
        "in_stock": stock - row["num_allocated"] > 0,
        "upc": row["upc"],
        "category": category,
        "description": row["description"],
    }


def cheapest_in_stock(db: Path, category: str) -> str:
    """The title of the cheapest product of `category` with stock left (ties: by title)."""
    stocked = [p for p in products(db, category) if p["in_stock"] and p["price"] is not None]
    if not stocked:
        raise LookupError(f"nothing in category {category!r} is in stock")
    return min(stocked, key=lambda p: (p["price"], p["title"]))["title"]
