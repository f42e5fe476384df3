"""Fixtures for tests that drive a real Chromium: a static page server for the primitive tests
(the pages are the point of those tests) and one browser per backend per module."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from agentjit.backends.base import launch_backend

PAGES = Path(__file__).parent / "pages"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def static_site() -> Iterator[str]:
    """The files in tests/pages, served on a free 127.0.0.1 port."""
    handler = functools.partial(_QuietHandler, directory=str(PAGES))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["cdp", "selenium"])
async def browser(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    """A launched browser of each backend, closed (with its processes) after the module."""
    async with launch_backend(request.param) as launched:
        yield launched
