"""A test-only site over the static pages in tests/pages: small, fast and fully known, so the
executor's tests can check dataflow, tabs, contracts and traces without a web application's
noise. (The shop and tracker tests run the same runtime against django-oscar and Trac.)"""

from __future__ import annotations

from agentjit.tools import Enum, Page, Site, State

site = Site(
    "pages",
    state=State(page=Enum("index", "second")),
    base_url="http://127.0.0.1:1",  # replaced by the test's server URL
    doc="The static test pages.",
)


@site.observe
async def observe(page: Page) -> dict:
    path = await page.evaluate("location.pathname")
    return {"page": "second" if path.endswith("second.html") else "index"}


@site.tool(navigates=True, idempotent=True, ensures={"page": "index"})
async def open_index(page: Page) -> None:
    """Open the index page."""
    await page.goto("/index.html")


@site.tool(reads_page=True, idempotent=True, requires={"page": "index"})
async def items(page: Page) -> list[str]:
    """The list items on the index page."""
    return await page.texts(".items li")


@site.tool(navigates=True, reads_page=True, idempotent=True, ensures={"page": "second"})
async def visit(page: Page, key: str) -> str:
    """Open the second page with `?key=...` and read back the query it shows."""
    await page.goto("/second.html?key=" + key)
    return await page.text("#query")


@site.tool(navigates=True, idempotent=True, ensures={"page": "second"})
async def lost(page: Page) -> None:
    """Claims to open the second page but stays on the index (a broken tool)."""
    await page.goto("/index.html")


@site.tool(navigates=True, idempotent=True)
async def leave(page: Page, url: str) -> None:
    """Navigate to an absolute URL (to test the origin fence)."""
    await page.goto(url)
