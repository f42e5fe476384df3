"""django-oscar as a real shop to test and benchmark against: seed it, copy it, serve it, check it.

    template = seeded_template()                  # 30-50 s the first time, then cached
    with start(fresh_copy(template, tmp / "shop")) as shop:
        ...                                       # a browser works on shop.url
        db = shop.extra["db"]
        assert orders(db)[0]["lines"][0]["title"] == cheapest_in_stock(db, "Cables")

The catalogue is made up and deterministic (`catalogue.py`): 52 products in Books (Fiction,
Computing), Electronics (Cables, Headphones, Cameras, Accessories), Home (Kitchen, Garden),
Clothing (T-Shirts), Games and Toys; the cheapest cable is out of stock. Users: admin/admin-pass
(superuser) and alice@example.com/alice-pass. Guest checkout is on; GB postcodes are validated.
The checkers read the SQLite database read-only, so they can run while the server does.
"""

from agentjit.webapps.oscar.checks import basket_lines, cheapest_in_stock, orders, products
from agentjit.webapps.oscar.lifecycle import fresh_copy, seed, seeded_template, start

__all__ = [
    "basket_lines",
    "cheapest_in_stock",
    "fresh_copy",
    "orders",
    "products",
    "seed",
    "seeded_template",
    "start",
]
