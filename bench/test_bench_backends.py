"""Benchmarks of the page primitives on both backends (CDP and Selenium) against a real headless
Chromium and the static test pages.

    python -m pytest bench/test_bench_backends.py --benchmark-enable
    python -m pytest bench/test_bench_backends.py --benchmark-enable -k cdp

Without `--benchmark-enable` (the project's `addopts` disable benchmarks) each primitive runs
once as a plain test of what it returns. Only results are asserted, never time. Each round is
one primitive call driven to completion on the module's event loop (`run_until_complete` adds
some tens of microseconds to every figure, on both backends alike); `bench/backend_ratios.py`
prints medians and ratios against the goals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from agentjit.backends.base import launch_backend
from tests.browser_fixtures import static_site  # noqa: F401

pytestmark = pytest.mark.browser

Call = Callable[[Any, str], Awaitable[Any]]

PRIMITIVES: dict[str, tuple[Call, Any]] = {
    "evaluate": (lambda page, base: page.evaluate("1 + 1"), 2),
    "exists": (lambda page, base: page.exists("#title"), True),
    "text": (lambda page, base: page.text("#title"), "Primitive test page"),
    "texts": (lambda page, base: page.texts(".items li"), ["alpha", "beta", "gamma"]),
    "attribute": (lambda page, base: page.attribute("#next", "href"), "second.html?from=link"),
    "url": (lambda page, base: page.url(), None),
    "fill": (lambda page, base: page.fill("#q", "abc"), None),
    "select": (lambda page, base: page.select("#kind", "b"), None),
    "click": (lambda page, base: page.click("#counter"), None),
}


class Session:
    """A browser of one backend with a page on the index test page, on a private event loop."""

    def __init__(self, backend: str, base: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.launching = launch_backend(backend)
        self.browser = self.run(self.launching.__aenter__())
        self.page = self.run(self._index(base))

    async def _index(self, base: str) -> Any:
        page = await (await self.browser.new_context()).new_page()
        await page.goto(base + "/index.html")
        return page

    def run(self, step: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(step)

    def close(self) -> None:
        try:
            self.run(self.launching.__aexit__(None, None, None))
        finally:
            self.loop.close()


@pytest.fixture(scope="module", params=["cdp", "selenium"])
def session(request: pytest.FixtureRequest, static_site: str) -> Iterator[Session]:  # noqa: F811
    opened = Session(request.param, static_site)
    yield opened
    opened.close()


@pytest.mark.parametrize("name", list(PRIMITIVES))
def test_primitive(benchmark: Any, session: Session, static_site: str, name: str) -> None:  # noqa: F811
    call, expected = PRIMITIVES[name]
    result = benchmark(lambda: session.run(call(session.page, static_site)))
    if name == "url":
        assert result == static_site + "/index.html"
    else:
        assert result == expected


def test_goto(benchmark: Any, session: Session, static_site: str) -> None:  # noqa: F811
    """A navigation to a small static page, waited for until it has loaded."""
    second = static_site + "/second.html"
    benchmark(lambda: session.run(session.page.goto(second)))
    assert session.run(session.page.text("#title")) == "Second page"
    session.run(session.page.goto(static_site + "/index.html"))
