"""The Chrome DevTools Protocol backend: `Page` over one websocket, one flattened session per tab.

    async with CdpBrowser.launch() as browser:      # headless Chromium in its own process group
        context = await browser.new_context()       # shared cookies between its tabs
        page = await context.new_page()
        await page.goto("http://127.0.0.1:8001/")

Element primitives are one `Runtime.evaluate` each: the wait for the selector runs inside the page
as a promise, so a present element costs one round trip (~0.5 ms on loopback). Navigation is
tracked from the main frame's loading events, so `goto`, and a `click` or `press` that starts a
navigation, return once the new document has stopped loading.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

from agentjit.backends.base import Launching
from agentjit.backends.cdp_connection import CdpConnection, CdpError
from agentjit.backends.chromium import ChromiumProcess, launch_for_cdp
from agentjit.backends.page_scripts import (
    CLICK,
    FILL,
    FOCUS,
    READ_ATTRIBUTE,
    READ_TEXT,
    READ_TEXTS,
    SELECT,
    WAIT_FOR,
)
from agentjit.tools.page import (
    ElementNotFound,
    NavigationError,
    PageTimeout,
    ScriptError,
)

NAVIGATED_AWAY = "Inspected target navigated or closed"
"""Chromium's answer to an evaluate whose document was replaced before it replied."""
SLACK_S = 2.0
"""Extra time a command gets beyond the in-page wait it carries."""

KEYS = {
    "Enter": {"code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"},
    "Tab": {"code": "Tab", "windowsVirtualKeyCode": 9},
    "Escape": {"code": "Escape", "windowsVirtualKeyCode": 27},
    "ArrowDown": {"code": "ArrowDown", "windowsVirtualKeyCode": 40},
    "ArrowUp": {"code": "ArrowUp", "windowsVirtualKeyCode": 38},
}


class CdpPage:
    """One tab, attached through a flattened session (see module doc)."""

    def __init__(self, connection: CdpConnection, target_id: str, session: str) -> None:
        self.connection = connection
        self.target_id = target_id
        self.session = session
        self.navigations = 0
        self._loaded: asyncio.Future[None] | None = None
        self._closed = False
        self._cache_bypassed = False
        for event in ("Page.frameRequestedNavigation", "Page.frameStartedLoading"):
            connection.on(event, self._on_navigation, session=session)
        connection.on("Page.frameStoppedLoading", self._on_stopped, session=session)

    async def _send(self, method: str, params: dict[str, Any] | None = None, t: float = 10.0):
        return await self.connection.send(method, params, session=self.session, timeout_s=t)

    def _on_navigation(self, params: dict[str, Any]) -> None:
        if params.get("frameId") != self.target_id:
            return
        self.navigations += 1
        if self._loaded is None or self._loaded.done():
            self._loaded = asyncio.get_running_loop().create_future()

    def _on_stopped(self, params: dict[str, Any]) -> None:
        if params.get("frameId") == self.target_id and self._loaded and not self._loaded.done():
            self._loaded.set_result(None)

    async def _settle(self, navigations_before: int, timeout_s: float, what: str) -> None:
        """Wait for the load a navigation started after `navigations_before` (if any)."""
        if self.navigations == navigations_before or self._loaded is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._loaded), timeout_s)
        except TimeoutError as e:
            raise PageTimeout(
                f"{what}: the page did not finish loading in {timeout_s:.1f} s",
                url=await self._current_url(),
            ) from e

    # ---- navigation -------------------------------------------------------------------------

    async def goto(self, url: str, timeout_s: float = 10.0) -> None:
        before = self.navigations
        result = await self._send("Page.navigate", {"url": url}, timeout_s)
        if result.get("errorText"):
            raise NavigationError(f"cannot open {url}: {result['errorText']}", url=url)
        if "loaderId" in result:  # a new document, not a same-document (#fragment) move
            if self.navigations == before:
                # The reply beat the loading events: expect them (a finished future belongs
                # to the previous document).
                self.navigations += 1
                if self._loaded is None or self._loaded.done():
                    self._loaded = asyncio.get_running_loop().create_future()
            await self._settle(before, timeout_s, f"goto {url}")

    async def url(self) -> str:
        return str(await self.evaluate("location.href"))

    async def _current_url(self) -> str:
        with contextlib.suppress(Exception):
            return await self.url()
        return ""

    # ---- element primitives -----------------------------------------------------------------

    async def _element_call(self, script: str, selector: str, timeout_s: float, *args: Any):
        """Run a page script that waits for `selector`; map its 'missing' answer to an error."""
        call = (
            f"({script})({json.dumps(selector)}, {int(timeout_s * 1000)}, "
            + ", ".join(json.dumps(a) for a in args)
            + ")"
        )
        outcome = await self.evaluate(call, timeout_s + SLACK_S)
        if isinstance(outcome, dict) and outcome.get("missing"):
            raise ElementNotFound(
                f"no element matches {selector!r} after {timeout_s:.1f} s"
                + (f": {outcome['missing']}" if isinstance(outcome["missing"], str) else ""),
                url=await self._current_url(),
                selector=selector,
            )
        return outcome

    async def click(self, selector: str, timeout_s: float = 5.0) -> None:
        before = self.navigations
        try:
            await self._element_call(CLICK, selector, timeout_s)
        except CdpError as e:
            # The click navigated before the script's reply left the page: it did its job.
            if NAVIGATED_AWAY not in str(e):
                raise
        await self._settle(before, timeout_s + 10.0, f"click {selector}")

    async def fill(self, selector: str, text: str, timeout_s: float = 5.0) -> None:
        await self._element_call(FILL, selector, timeout_s, text)

    async def select(self, selector: str, value: str, timeout_s: float = 5.0) -> None:
        await self._element_call(SELECT, selector, timeout_s, value)

    async def press(self, selector: str, key: str, timeout_s: float = 5.0) -> None:
        await self._element_call(FOCUS, selector, timeout_s)
        before = self.navigations
        spec = KEYS.get(key, {"text": key} if len(key) == 1 else None)
        if spec is None:
            raise ValueError(f"unknown key {key!r}; expected one character or {sorted(KEYS)}")
        for kind in ("keyDown", "keyUp"):
            event = {"type": kind, "key": key, **spec}
            if kind == "keyUp":
                event.pop("text", None)
            await self._send("Input.dispatchKeyEvent", event, timeout_s)
        await self.evaluate("0")  # a round trip, so a navigation the key started has shown up
        await self._settle(before, timeout_s + 10.0, f"press {key} in {selector}")

    async def text(self, selector: str, timeout_s: float = 5.0) -> str:
        return str((await self._element_call(READ_TEXT, selector, timeout_s))["value"])

    async def texts(self, selector: str, timeout_s: float = 5.0) -> list[str]:
        call = f"({READ_TEXTS})({json.dumps(selector)})"
        return list(await self.evaluate(call, timeout_s))

    async def attribute(self, selector: str, name: str, timeout_s: float = 5.0) -> str | None:
        outcome = await self._element_call(READ_ATTRIBUTE, selector, timeout_s, name)
        return outcome["value"]

    async def exists(self, selector: str) -> bool:
        return bool(await self.evaluate(f"!!document.querySelector({json.dumps(selector)})"))

    async def wait_for(self, selector: str, timeout_s: float = 5.0) -> None:
        await self._element_call(WAIT_FOR, selector, timeout_s)

    async def evaluate(self, script: str, timeout_s: float = 5.0) -> Any:
        """The JSON value of a JavaScript expression (promises are awaited)."""
        params = {"expression": script, "returnByValue": True, "awaitPromise": True}
        result = await self._send("Runtime.evaluate", params, timeout_s)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            message = details.get("exception", {}).get("description") or details.get("text")
            raise ScriptError(f"script failed: {message}")
        return result.get("result", {}).get("value")

    async def bypass_cache(self) -> None:
        """Load everything from the network from now on, never from the HTTP cache.

        Tabs of one context share a cache, and Chromium lets one request per URL through it at
        a time (the cache lock): two tabs loading the same page at once would take turns. The
        runtime calls this on the tabs of hedged copies, which do exactly that. It needs the
        Network domain, whose events cost a little per request.
        """
        if self._cache_bypassed:
            return
        await self._send("Network.enable")
        await self._send("Network.setCacheDisabled", {"cacheDisabled": True})
        self._cache_bypassed = True

    async def screenshot(self) -> bytes:
        result = await self._send("Page.captureScreenshot", {"format": "png"}, 20.0)
        return base64.b64decode(result["data"])

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(CdpError, PageTimeout):
            await self.connection.send(
                "Target.closeTarget", {"targetId": self.target_id}, timeout_s=5.0
            )
        self.connection.forget_session(self.session)


class CdpContext:
    """A browser context: tabs in it share cookies and storage (a login carries over)."""

    def __init__(self, browser: CdpBrowser, context_id: str | None) -> None:
        self.browser = browser
        self.context_id = context_id
        self.pages: list[CdpPage] = []

    async def new_page(self, url: str = "about:blank") -> CdpPage:
        connection = self.browser.connection
        params: dict[str, Any] = {"url": url}
        if self.context_id:
            params["browserContextId"] = self.context_id
        target = (await connection.send("Target.createTarget", params))["targetId"]
        attached = await connection.send(
            "Target.attachToTarget", {"targetId": target, "flatten": True}
        )
        page = CdpPage(connection, target, attached["sessionId"])
        await page._send("Page.enable")
        self.pages.append(page)
        return page

    async def close(self) -> None:
        for page in self.pages:
            await page.close()
        self.pages.clear()
        if self.context_id:
            with contextlib.suppress(CdpError, PageTimeout):
                await self.browser.connection.send(
                    "Target.disposeBrowserContext", {"browserContextId": self.context_id}
                )


class CdpBrowser:
    """A Chromium driven over CDP: launched here (and stopped on close) or reached by URL."""

    name = "cdp"

    def __init__(self, connection: CdpConnection, process: ChromiumProcess | None) -> None:
        self.connection = connection
        self.process = process
        self.contexts: list[CdpContext] = []

    @classmethod
    def launch(
        cls, *, headless: bool = True, ws_url: str = "", timeout_s: float = 20.0
    ) -> Launching:
        """Start a headless Chromium (or attach to `ws_url`, a browser someone else runs)."""
        return Launching(lambda: cls._start(headless, ws_url, timeout_s))

    @classmethod
    async def _start(cls, headless: bool, ws_url: str, timeout_s: float) -> CdpBrowser:
        if ws_url:
            return cls(await CdpConnection.open(ws_url, timeout_s), None)
        process = await asyncio.to_thread(launch_for_cdp, headless=headless, timeout_s=timeout_s)
        try:
            connection = await CdpConnection.open(process.ws_url, timeout_s)
        except BaseException:
            process.stop()
            raise
        return cls(connection, process)

    async def new_context(self) -> CdpContext:
        """A fresh, isolated browser context (own cookies)."""
        created = await self.connection.send("Target.createBrowserContext", {})
        context = CdpContext(self, created["browserContextId"])
        self.contexts.append(context)
        return context

    async def new_page(self) -> CdpPage:
        """A tab in the browser's first context made here (created on demand)."""
        if not self.contexts:
            await self.new_context()
        return await self.contexts[0].new_page()

    async def close(self) -> None:
        try:
            for context in self.contexts:
                await context.close()
            await self.connection.close()
        finally:
            if self.process is not None:
                await asyncio.to_thread(self.process.stop)
