"""What the runtime needs of a backend: browsers that make contexts, contexts that make pages.

A context is a cookie jar: its pages share a login. `launch_backend("cdp" | "selenium")` starts
one; the result is awaitable and an async context manager, so both of these work:

    browser = await launch_backend("cdp")
    async with launch_backend("selenium") as browser: ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, Protocol

from agentjit.tools.page import Page

BACKENDS = ("cdp", "selenium")


class BrowserContext(Protocol):
    async def new_page(self) -> Page: ...
    async def close(self) -> None: ...


class Browser(Protocol):
    name: str

    async def new_context(self) -> BrowserContext: ...
    async def close(self) -> None: ...


class Launching:
    """A browser being started: await it, or use it as `async with` (closed on exit)."""

    def __init__(self, start: Callable[[], Awaitable[Any]]) -> None:
        self._start = start
        self._browser: Any = None

    def __await__(self) -> Generator[Any, None, Any]:
        return self._start().__await__()

    async def __aenter__(self) -> Any:
        self._browser = await self._start()
        return self._browser

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._browser.close()


def launch_backend(name: str, **options: Any) -> Launching:
    """Start the browser of backend `name` (`cdp` or `selenium`) with backend options."""
    if name == "cdp":
        from agentjit.backends.cdp import CdpBrowser

        return CdpBrowser.launch(**options)
    if name == "selenium":
        from agentjit.backends.selenium import SeleniumBrowser

        return SeleniumBrowser.launch(**options)
    raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
