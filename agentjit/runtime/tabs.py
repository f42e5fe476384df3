"""Tabs at run time: the token values that name them, and a bounded pool per browser context.

Tab 0 is the run's own page. `tab.open` takes a page from the pool (reusing an idle one: a
fresh tab's contract state is "unknown page", which any page satisfies), blocking while
`limit` pages are busy; `tab.close` gives it back. Pages share the context's cookies, so a login
made on tab 0 carries over.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from agentjit.backends.base import BrowserContext
from agentjit.tools.page import Page, PageTimeout


@dataclass(frozen=True, eq=False)
class TabToken:
    """A `!tab` value: the page the tab's ops run on and its row in the trace."""

    page: Page
    number: int


class ResourceToken:
    """Any other state token (`!res<site.resource>`): ordering only, no payload."""


class TabPool:
    """At most `limit` extra pages of one context in use at once (see module doc)."""

    def __init__(self, context: BrowserContext, limit: int, acquire_timeout_s: float = 120.0):
        if limit < 1:
            raise ValueError(f"a tab pool needs at least one tab, got {limit}")
        self.context = context
        self.limit = limit
        self.acquire_timeout_s = acquire_timeout_s
        self._slots = asyncio.Semaphore(limit)
        self._idle: list[TabToken] = []
        self._made = 0

    async def acquire(self) -> TabToken:
        await self.reserve()
        return await self.take()

    async def reserve(self) -> None:
        """Wait (bounded) until fewer than `limit` tabs are in use, and claim one slot."""
        try:
            await asyncio.wait_for(self._slots.acquire(), self.acquire_timeout_s)
        except TimeoutError as e:
            raise PageTimeout(
                f"no free tab within {self.acquire_timeout_s:.0f} s ({self.limit} in use)"
            ) from e

    async def take(self) -> TabToken:
        """The page for a reserved slot: an idle one, else a new one."""
        if self._idle:
            return self._idle.pop()
        try:
            self._made += 1
            number = self._made  # read before the await: other acquires run meanwhile
            return TabToken(await self.context.new_page(), number)
        except BaseException:
            self._slots.release()
            raise

    def release(self, token: TabToken) -> None:
        self._idle.append(token)
        self._slots.release()

    async def warm(self, n: int) -> None:
        """Open up to `n` pages ahead of time (a WebDriver session takes a second to start)."""
        tokens = await asyncio.gather(*(self.acquire() for _ in range(min(n, self.limit))))
        for token in tokens:
            self.release(token)
