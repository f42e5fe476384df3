"""Tabs at run time: the token values that name them, and a bounded pool per browser context.

Tab 0 is the run's own page. `tab.open` takes a page from the pool (reusing an idle one: a
fresh tab's contract state is "unknown page", which any page satisfies), blocking while
`limit` pages are busy; `tab.close` gives it back. Pages share the context's cookies, so a login
made on tab 0 carries over. A hedged chain reserves its k slots at once (`reserve(k)`); a copy
that lost the race hands its page back through `recycle`. Its slot is free at once (the copy was
cancelled: it no longer does work, which is also how the cost model counts it), while the page
is moved to about:blank, waiting out whatever the cancelled copy left running (a WebDriver call
cannot be interrupted), before it is idle again; it is closed instead when that fails. Meanwhile
`take` makes a new page rather than wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from agentjit.backends.base import BrowserContext
from agentjit.tools.page import Page, PageTimeout

BLANK = "about:blank"
RESET_TIMEOUT_S = 15.0
"""A cancelled copy's page may still be finishing a load (a WebDriver call cannot be
interrupted); recycling waits this long for it before closing the page instead."""


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
        self._several = asyncio.Lock()
        self._idle: list[TabToken] = []
        self._made = 0
        self.busy: set[TabToken] = set()
        """Pages taken and not yet given back: empty once a run has cleaned up."""
        self.closed = 0
        """Pages closed because they could not be recycled."""

    async def acquire(self) -> TabToken:
        await self.reserve()
        return await self.take()

    async def reserve(self, n: int = 1) -> None:
        """Wait (bounded) until `n` more tabs may be in use, and claim their slots together."""
        if not 1 <= n <= self.limit:
            raise ValueError(f"cannot reserve {n} of a pool of {self.limit} tabs")
        try:
            await asyncio.wait_for(self._claim(n), self.acquire_timeout_s)
        except TimeoutError as e:
            raise PageTimeout(
                f"no {n} free tab(s) within {self.acquire_timeout_s:.0f} s ({self.limit} in use)"
            ) from e

    async def _claim(self, n: int) -> None:
        if n == 1:
            await self._slots.acquire()
            return
        # One multi-slot claim at a time: two claims each holding part of what they need
        # would wait for each other forever.
        claimed = 0
        try:
            async with self._several:
                for _ in range(n):
                    await self._slots.acquire()
                    claimed += 1
        except BaseException:
            for _ in range(claimed):
                self._slots.release()
            raise

    async def take(self) -> TabToken:
        """The page for a reserved slot: an idle one, else a new one."""
        if self._idle:
            token = self._idle.pop()
        else:
            try:
                self._made += 1
                number = self._made  # read before the await: other takes run meanwhile
                token = TabToken(await self.context.new_page(), number)
            except BaseException:
                self._slots.release()
                raise
        self.busy.add(token)
        return token

    def release(self, token: TabToken) -> None:
        self.busy.discard(token)
        self._idle.append(token)
        self._slots.release()

    def release_slot(self) -> None:
        """Give back a reserved slot that never got a page."""
        self._slots.release()

    async def recycle(self, token: TabToken) -> bool:
        """Give back the slot and page of a cancelled copy (see module doc). True when the page
        went back to the pool, False when it had to be closed."""
        self._slots.release()
        try:
            await asyncio.wait_for(token.page.goto(BLANK, RESET_TIMEOUT_S), RESET_TIMEOUT_S + 5)
            clean = await token.page.url() == BLANK
        except Exception:
            clean = False
        self.busy.discard(token)
        if clean:
            self._idle.append(token)
            return True
        self.closed += 1
        close = getattr(token.page, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
        return False

    async def warm(self, n: int) -> None:
        """Open up to `n` pages ahead of time (a WebDriver session takes a second to start)."""
        tokens = await asyncio.gather(*(self.acquire() for _ in range(min(n, self.limit))))
        for token in tokens:
            self.release(token)
