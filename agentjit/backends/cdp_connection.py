"""One DevTools websocket: numbered commands with replies matched by id, events fanned out.

Sessions are flattened (`Target.attachToTarget {flatten: true}`): every message carries the
`sessionId` of the tab it is about, so many tabs share one connection and run concurrently. Every
command has a timeout; a closed connection fails every command still waiting instead of leaving
it hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import websockets

from agentjit.tools.page import PageError, PageTimeout

EventHandler = Callable[[dict[str, Any]], None]


class CdpError(PageError):
    """The browser answered a command with an error."""


class CdpConnection:
    """A DevTools connection to one browser (use `await CdpConnection.open(ws_url)`)."""

    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._handlers: dict[tuple[str, str], list[EventHandler]] = defaultdict(list)
        self._closed: BaseException | None = None
        self._reader = asyncio.create_task(self._read_loop(), name="cdp-reader")

    @classmethod
    async def open(cls, ws_url: str, timeout_s: float = 10.0) -> CdpConnection:
        try:
            # No permessage-deflate: on loopback, compressing every message only costs CPU.
            socket = await asyncio.wait_for(
                websockets.connect(ws_url, max_size=None, ping_interval=None, compression=None),
                timeout_s,
            )
        except TimeoutError as e:
            raise PageTimeout(f"no DevTools connection to {ws_url} within {timeout_s} s") from e
        return cls(socket)

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session: str = "",
        timeout_s: float = 10.0,
    ) -> dict[str, Any]:
        """Send one command and wait (bounded) for its reply's `result`."""
        if self._closed is not None:
            raise CdpError(f"{method}: the DevTools connection is closed ({self._closed})")
        message: dict[str, Any] = {"id": next(self._ids), "method": method}
        if params:
            message["params"] = params
        if session:
            message["sessionId"] = session
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message["id"]] = reply
        try:
            await self._socket.send(json.dumps(message))
            answer = await asyncio.wait_for(reply, timeout_s)
        except TimeoutError as e:
            raise PageTimeout(f"{method} got no reply within {timeout_s:.1f} s") from e
        finally:
            self._pending.pop(message["id"], None)
        if "error" in answer:
            error = answer["error"]
            raise CdpError(f"{method} failed: {error.get('message')} {error.get('data', '')}")
        return answer.get("result", {})

    def on(self, method: str, handler: EventHandler, *, session: str = "") -> Callable[[], None]:
        """Call `handler(params)` on each `method` event of `session`; returns an unsubscribe."""
        key = (session, method)
        self._handlers[key].append(handler)
        return lambda: self._handlers[key].remove(handler)

    def forget_session(self, session: str) -> None:
        for key in [k for k in self._handlers if k[0] == session]:
            del self._handlers[key]

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._socket.close(), 2.0)
        self._fail_pending(CdpError("the DevTools connection was closed"))

    async def _read_loop(self) -> None:
        try:
            async for raw in self._socket:
                self._dispatch(json.loads(raw))
        except Exception as e:  # the socket died: every waiter must hear about it
            self._closed = e
        else:
            self._closed = CdpError("the browser closed the DevTools connection")
        self._fail_pending(self._closed)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            reply = self._pending.get(message["id"])
            if reply is not None and not reply.done():
                reply.set_result(message)
            return
        key = (message.get("sessionId", ""), message.get("method", ""))
        for handler in list(self._handlers.get(key, ())):
            handler(message.get("params", {}))

    def _fail_pending(self, error: BaseException) -> None:
        for reply in self._pending.values():
            if not reply.done():
                reply.set_exception(CdpError(f"DevTools connection lost: {error}"))
        self._pending.clear()
