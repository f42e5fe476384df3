"""A test-only site whose pages take a varying time to load, for hedged runs.

`serve_slow_pages()` starts a server where the first request for each key waits `slow_s` and
every later one answers at once, so two copies of the same lookup started together always race
to a known end: one is slow (and must lose), one is fast. Keys starting `broken-once` answer
their first request at once but without an answer (the lookup fails), keys starting `broken`
never answer. The server counts its requests per key.
"""

from __future__ import annotations

import html
import http.server
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field

from agentjit.tools import Page, Site

site = Site("slow", base_url="http://127.0.0.1:1", doc="Pages whose latency varies.")


@site.tool(navigates=True, reads_page=True, idempotent=True)
async def lookup(page: Page, key: str) -> str:
    """Open the page of `key` and read its answer (the first load of a key is slow)."""
    await page.goto("/slow?key=" + urllib.parse.quote(key), timeout_s=30.0)
    if not await page.exists("#answer"):
        raise LookupError(f"the page of {key!r} has no answer")
    return await page.text("#answer")


@dataclass
class SlowServer:
    """A running slow-page server: its URL and how often each key was requested."""

    url: str
    server: http.server.ThreadingHTTPServer
    requests: Counter[str] = field(default_factory=Counter)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_slow_pages(slow_s: float = 3.0) -> SlowServer:
    """Start the server on a free 127.0.0.1 port (see module doc)."""
    lock = threading.Lock()
    requests: Counter[str] = Counter()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            if parts.path != "/slow":  # the browser's /favicon.ico
                self.send_error(404)
                return
            query = urllib.parse.parse_qs(parts.query)
            key = query.get("key", [""])[0]
            with lock:
                requests[key] += 1
                first = requests[key] == 1
            broken = key.startswith("broken") and (first or not key.startswith("broken-once"))
            if first and not broken:
                time.sleep(slow_s)
            answer = "" if broken else f'<p id="answer">answer-{html.escape(key)}</p>'
            body = f"<!doctype html><p>{html.escape(key)}</p>{answer}".encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the browser gave up on the page (its copy was cancelled)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return SlowServer(f"http://127.0.0.1:{server.server_address[1]}", server, requests)
