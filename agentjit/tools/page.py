"""The backend-neutral page primitives that tool implementations are written against.

Backends (Selenium, CDP) implement this protocol; tools only ever see a `Page`. Every method is
async and every wait is bounded by `timeout_s`. The element methods wait (bounded) for their
selector to match; `texts` and `exists` read what is there now. `click` and `press` wait for a
navigation they start to finish loading. Failures raise a `PageError` subclass that names the
selector and the URL, so a tool or the runtime can say what was expected where.
"""

from __future__ import annotations

from typing import Any, Protocol


class Page(Protocol):
    async def goto(self, url: str, timeout_s: float = 10.0) -> None: ...
    async def click(self, selector: str, timeout_s: float = 5.0) -> None: ...
    async def fill(self, selector: str, text: str, timeout_s: float = 5.0) -> None: ...
    async def select(self, selector: str, value: str, timeout_s: float = 5.0) -> None: ...
    async def press(self, selector: str, key: str, timeout_s: float = 5.0) -> None: ...
    async def text(self, selector: str, timeout_s: float = 5.0) -> str: ...
    async def texts(self, selector: str, timeout_s: float = 5.0) -> list[str]: ...
    async def attribute(self, selector: str, name: str, timeout_s: float = 5.0) -> str | None: ...
    async def exists(self, selector: str) -> bool: ...
    async def wait_for(self, selector: str, timeout_s: float = 5.0) -> None: ...
    async def url(self) -> str: ...
    async def evaluate(self, script: str, timeout_s: float = 5.0) -> Any: ...
    async def screenshot(self) -> bytes: ...


class PageError(RuntimeError):
    """A page primitive failed; `url` is where the page was when it did."""

    def __init__(self, message: str, *, url: str = "", selector: str = "") -> None:
        where = f" (at {url})" if url else ""
        super().__init__(message + where)
        self.url = url
        self.selector = selector


class ElementNotFound(PageError):
    """No element matched the selector within the timeout."""


class PageTimeout(PageError):
    """A navigation, load or command did not finish within its timeout."""


class NavigationError(PageError):
    """A navigation failed (network error, bad URL) or left the allowed origins."""


class ScriptError(PageError):
    """Script evaluated in the page threw."""
