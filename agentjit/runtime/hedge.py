"""Hedged chains at run time: k copies of a read-only chain on k tabs, the first to finish wins.

The schedule's `hedge-k` strategy (see `agentjit.cost.hedge`, which the simulator uses, and whose
`chain_extent` this module shares) applies to a tab marked `hedgeable`: its `tab.open`, every op
that uses the tab's values, and its `tab.close`. Every call in it is idempotent and writes
nothing, so running it k times changes nothing but the time.

The race reserves k slots of the tab pool at once (the simulator gives a hedged loop k slots
per iteration too), hands the source tab's token on, and starts k copies, each on a page of its
own with its own values. The first copy to reach its `tab.close` supplies the chain's results;
the others are cancelled (their in-flight call is traced as `cancelled` and is not a profile
sample: it measured no complete latency), their slots freed, and their pages blanked and
returned to the pool (or closed) before the race ends, so no tab outlives the run. A copy that
fails does not fail the chain while another may still finish; when all fail, the first failure
is the chain's.

Copies load the same URLs at the same time, and Chromium lets only one request per URL and
HTTP cache through at once (the cache lock): on CDP, whose tabs share a cache, the copies' pages
bypass the cache (`CdpPage.bypass_cache`), or the second copy would wait for the first.
Selenium's pages are browsers of their own; there, a cancelled copy's page is busy until its
WebDriver call returns, so it is recycled only then (and the pool makes a new page meanwhile).

Only completed calls become samples, from every copy. That is still biased low: a copy's call
finishes in the profile only if it beat the winner's whole chain, and the winner is the fastest
of k. The bias is small for one-call chains with k=2 and is the price of learning from hedged
runs at all; a censored-latency fit would remove it.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentjit.cost.hedge import chain_extent
from agentjit.ir import Operation
from agentjit.ir.ops import LlmCallOp, TabCloseOp, TabOpenOp, ToolCallOp
from agentjit.ir.value import Value
from agentjit.runtime.tabs import TabToken

if TYPE_CHECKING:
    from agentjit.runtime.executor import Env, Executor

TIMED = (ToolCallOp, LlmCallOp, TabOpenOp, TabCloseOp)
_ids = itertools.count(1)


@dataclass(frozen=True)
class Chain:
    """The ops of one hedgeable tab in block order, and the values later ops may read."""

    ops: list[Operation]
    opener: TabOpenOp
    results: list[Value]


@dataclass
class Copy:
    """One copy of a hedged chain: its page (being taken from the pool) and how it ended."""

    hedge: int
    index: int
    k: int
    taking: asyncio.Task[TabToken]
    opened: bool = False
    closed: bool = False

    def tags(self) -> dict[str, Any]:
        return {"hedge": self.hedge, "copy": f"{self.index + 1}/{self.k}"}


CURRENT: contextvars.ContextVar[Copy | None] = contextvars.ContextVar("hedge_copy", default=None)
"""The copy whose ops the current task runs (None outside hedged chains)."""


def find_chain(ops: list[Operation], i: int) -> tuple[Chain, int] | None:
    """The hedgeable chain `ops[i]` opens and the index of its close, or None (not hedgeable,
    or something outside the chain must wait on it before its close: see `chain_extent`)."""
    opener = ops[i]
    if not isinstance(opener, TabOpenOp) or not opener.hedgeable:
        return None
    extent = chain_extent(ops, i, _takes_time)
    if extent is None:
        return None
    members, close_at = extent
    chain_ops = [op for op in ops[i : close_at + 1] if op in members]
    results = [r for op in chain_ops for r in op.results if r is not opener.source_out]
    return Chain(chain_ops, opener, results), close_at


def _takes_time(op: Operation) -> bool:
    return any(isinstance(inner, TIMED) for inner in op.walk())


@dataclass
class Race:
    """Runs one hedged chain (see module doc); `start_op` starts an op of a copy in its env."""

    executor: Executor
    chain: Chain
    k: int
    start_op: Callable[[Operation, Env], None]
    copies: list[Copy] = field(default_factory=list)

    async def run(self, env: Env, outputs: dict[Value, asyncio.Future[Any]]) -> None:
        ex = self.executor
        await ex.pool.reserve(self.k)
        source = self.chain.opener
        outputs[source.source_out].set_result(await env[source.source])
        hedge = next(_ids)
        started = ex.recorder.now()
        self.copies = [
            Copy(hedge, c, self.k, asyncio.create_task(self._take())) for c in range(self.k)
        ]
        tasks = [asyncio.create_task(self._copy(copy, env)) for copy in self.copies]
        try:
            winner, values = await _first_success(tasks)
        except asyncio.CancelledError:  # the run is stopping: the browser goes with it
            await self._stop(tasks, cleanup=False)
            raise
        except Exception:
            await self._stop(tasks, cleanup=True)
            raise
        for value, future in outputs.items():
            if value is not source.source_out:
                future.set_result(values[value])
        lost = [c.index + 1 for c in self.copies if c.index != winner]
        row = self.copies[winner].taking.result().number
        args = {"hedge": hedge, "won": f"{winner + 1}/{self.k}", "lost": lost}
        ex.recorder.add(row, "hedge", started, args, True, sample=False)
        await self._stop(tasks, cleanup=True)

    async def _take(self) -> TabToken:
        token = await self.executor.pool.take()
        bypass = getattr(token.page, "bypass_cache", None)
        if bypass is not None:
            try:
                await bypass()
            except BaseException:
                await self.executor.pool.recycle(token)
                raise
        return token

    async def _copy(self, copy: Copy, env: Env) -> dict[Value, Any]:
        from agentjit.runtime.executor import GROUP, first_cause

        CURRENT.set(copy)
        local = dict(env)
        try:
            async with asyncio.TaskGroup() as group:
                GROUP.set(group)
                for op in self.chain.ops:
                    self.start_op(op, local)
        except BaseExceptionGroup as failed:
            raise first_cause(failed) from None
        return {v: await local[v] for v in self.chain.results}

    async def _stop(self, tasks: list[asyncio.Task[Any]], *, cleanup: bool) -> None:
        """Cancel the copies still running; give back every page and slot they hold."""
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if not cleanup:
            for copy in self.copies:
                copy.taking.cancel()
            return
        await asyncio.gather(*(self._give_back(copy) for copy in self.copies))

    async def _give_back(self, copy: Copy) -> None:
        if copy.closed:
            return  # its own tab.close gave the page back
        try:
            token = await copy.taking
        except Exception:
            return  # the pool released the slot when it failed to make the page
        start = self.executor.recorder.now()
        kept = await self.executor.pool.recycle(token)
        args = {**copy.tags(), "kept": kept}
        self.executor.recorder.add(token.number, "tab.recycle", start, args, True, sample=False)


async def _first_success(tasks: list[asyncio.Task[Any]]) -> tuple[int, Any]:
    """(index, result) of the first task to succeed; the first failure if all fail."""
    pending = set(tasks)
    failures: list[BaseException] = []
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finished = sorted(done, key=tasks.index)
        for task in finished:
            if task.cancelled():
                failures.append(asyncio.CancelledError())
            elif task.exception() is None:
                return tasks.index(task), task.result()
            else:
                failures.append(task.exception())  # type: ignore[arg-type]
    raise failures[0]
