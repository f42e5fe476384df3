"""The tracker site's tools on a real Chromium (CDP) against a real, freshly seeded Trac.

Every tool call goes through `runtime.call_tool` (relative URLs, origin check). After each call,
`observe()` must satisfy the tool's `ensures`, and before it the tool's `requires`; what a tool
wrote is checked in Trac's SQLite database, what it read is compared with the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentjit.backends.cdp import CdpBrowser
from agentjit.backends.chromium import chromium_binary
from agentjit.runtime import call_tool
from agentjit.sites import tracker
from agentjit.tools.state import matches, param_ref
from agentjit.webapps import AppServer
from agentjit.webapps.trac import comments, data, fresh_copy, seeded_template, start, tickets

pytestmark = pytest.mark.webapp

CALL_TIMEOUT_S = 60.0
TICKET_FIELDS = ("summary", "status", "owner", "priority", "component")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    base = tmp_path_factory.mktemp("trac-tools")
    env_dir = fresh_copy(seeded_template(), base / "env")
    with start(env_dir, log_path=base / "tracd.log") as server:
        yield server


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def browser(loop: asyncio.AbstractEventLoop) -> Iterator[CdpBrowser]:
    try:
        chromium_binary()
    except Exception as e:  # no browser installed: nothing to drive
        pytest.skip(f"no Chromium: {e}")
    launched = loop.run_until_complete(CdpBrowser.launch())
    yield launched
    loop.run_until_complete(launched.close())


class Tab:
    """One browser context (own cookies) and tab, with contract-checked tool calls."""

    def __init__(self, loop: asyncio.AbstractEventLoop, page: Any, app: AppServer) -> None:
        self.loop, self.page, self.app = loop, page, app
        self.db: Path = app.extra["db"]  # type: ignore[assignment]

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, CALL_TIMEOUT_S))

    def observe(self) -> dict[str, Any]:
        return self.run(tracker.observe(self.page))

    def raw(self, name: str, **kwargs: Any) -> Any:
        """Call a tool without the contract checks (for calls expected to fail)."""
        return self.run(call_tool(tracker.site, name, self.page, self.app.url, **kwargs))

    def call(self, name: str, **kwargs: Any) -> Any:
        contract = tracker.site.tools[name].contract
        self._check(f"before {name}, requires", contract.requires, self.observe(), kwargs, None)
        result = self.raw(name, **kwargs)
        self._check(f"after {name}, ensures", contract.ensures, self.observe(), kwargs, result)
        return result

    @staticmethod
    def _check(
        what: str, patterns: Any, state: dict[str, Any], args: dict[str, Any], result: Any
    ) -> None:
        for field, pattern in patterns.items():
            ref = param_ref(pattern)
            if ref == "result":
                assert state[field] == result, f"{what} {field} = the result {result!r}: {state}"
            elif ref is not None:
                assert state[field] == args[ref], f"{what} {field} = {ref} {args[ref]!r}: {state}"
            else:
                assert matches(pattern, state[field]), f"{what} {field} {pattern!r}: {state}"


@pytest.fixture
def new_tab(
    loop: asyncio.AbstractEventLoop, browser: CdpBrowser, app: AppServer
) -> Iterator[Callable[[], Tab]]:
    """Makes tabs in fresh browser contexts (separate logins); closes them afterwards."""
    contexts: list[Any] = []

    def make() -> Tab:
        contexts.append(loop.run_until_complete(browser.new_context()))
        return Tab(loop, loop.run_until_complete(contexts[-1].new_page()), app)

    yield make
    for context in contexts:
        with contextlib.suppress(Exception):
            loop.run_until_complete(context.close())


@pytest.fixture
def tab(new_tab: Callable[[], Tab]) -> Tab:
    return new_tab()


def as_tickets(rows: list[dict[str, Any]]) -> list[tracker.Ticket]:
    return [tracker.Ticket(id=r["id"], **{f: r[f] for f in TICKET_FIELDS}) for r in rows]


def plain(text: str) -> str:
    """Text as stored (CRLF from the form) and as rendered compare equal line by line."""
    return "\n".join(line.strip() for line in text.replace("\r\n", "\n").split("\n"))


def test_login_file_query_view_comment(tab: Tab) -> None:
    tab.call("login", user="alice", password=data.USERS["alice"])
    summary = "Checkout button unresponsive (browser test)"
    description = 'Clicking "Place order" does nothing.\nSteps: add any item, press the button.'
    number = tab.call(
        "new_ticket",
        summary=summary,
        description=description,
        priority="critical",
        component="checkout",
    )
    (row,) = tickets(tab.db, id=number)
    assert (row["summary"], row["reporter"], row["priority"]) == (summary, "alice", "critical")
    assert (row["component"], row["owner"], row["status"]) == ("checkout", "alice", "new")
    assert plain(row["description"]) == plain(description)

    listed = tab.call("query_tickets", status="!closed")
    assert number in [t.id for t in listed]
    assert listed == as_tickets(tickets(tab.db, status="!closed"))

    details = tab.call("view_ticket", id=number)
    assert (details.id, details.summary, details.reporter) == (number, summary, "alice")
    assert (details.status, details.owner, details.comments) == ("new", "alice", [])
    assert plain(details.description) == plain(description)

    note = "Reproduced on Chromium too.\nStill broken after a reload."
    tab.call("add_comment", id=number, text=note)
    assert [plain(c) for c in comments(tab.db, number)] == [plain(note)]
    again = tab.call("view_ticket", id=number)
    assert [plain(c) for c in again.comments] == [plain(note)]


@pytest.mark.parametrize(
    "filters",
    [
        {"status": "", "owner": "bob"},
        {"component": "ui"},
        {"status": "closed"},
        {"status": "!closed", "owner": "carol", "component": "inventory"},
        {"owner": "nobody-at-all"},
    ],
)
def test_query_matches_the_database(tab: Tab, filters: dict[str, str]) -> None:
    listed = tab.call("query_tickets", **filters)
    db_filters = {"status": "!closed", **filters}
    db_filters = {k: v for k, v in db_filters.items() if v}
    assert listed == as_tickets(tickets(tab.db, **db_filters))


def test_view_seeded_ticket_matches_the_database(tab: Tab) -> None:
    details = tab.call("view_ticket", id=1)
    (row,) = tickets(tab.db, id=1)
    assert (details.summary, details.status, details.owner, details.reporter) == (
        row["summary"],
        row["status"],
        row["owner"],
        row["reporter"],
    )
    assert details.description == row["description"]
    assert details.comments == comments(tab.db, 1)
    assert tab.observe() == {"page": "ticket", "ticket": 1, "logged_in": False}


def test_wrong_password_is_refused(tab: Tab) -> None:
    with pytest.raises(tracker.TrackerError, match=r"login as 'alice' failed.*Invalid"):
        tab.raw("login", user="alice", password="x")
    assert tab.observe() == {"page": "login", "ticket": None, "logged_in": False}


def test_filing_needs_a_login(tab: Tab) -> None:
    before = len(tickets(tab.db))
    with pytest.raises(tracker.TrackerError, match="not logged in"):
        tab.raw("new_ticket", summary="x", description="")
    assert len(tickets(tab.db)) == before


def test_missing_ticket_is_reported(tab: Tab) -> None:
    with pytest.raises(tracker.TrackerError, match=r"ticket #9999 not found.*does not exist"):
        tab.raw("view_ticket", id=9999)
    assert tab.observe()["ticket"] is None


def test_comment_refuses_another_ticket_page(tab: Tab) -> None:
    tab.call("login", user="bob", password=data.USERS["bob"])
    tab.call("view_ticket", id=2)
    before = comments(tab.db, 3)
    with pytest.raises(tracker.TrackerError, match="needs ticket #3 open"):
        tab.raw("add_comment", id=3, text="hi")
    assert comments(tab.db, 3) == before


def test_login_switches_user(tab: Tab) -> None:
    tab.call("login", user="alice", password=data.USERS["alice"])
    tab.call("login", user="bob", password=data.USERS["bob"])
    number = tab.call("new_ticket", summary="Filed by bob", description="switch", priority="minor")
    (row,) = tickets(tab.db, id=number)
    assert (row["reporter"], row["priority"]) == ("bob", "minor")


def test_comment_survives_a_concurrent_change(new_tab: Callable[[], Tab]) -> None:
    alice, bob = new_tab(), new_tab()
    alice.call("login", user="alice", password=data.USERS["alice"])
    bob.call("login", user="bob", password=data.USERS["bob"])
    alice.call("view_ticket", id=14)
    bob.call("view_ticket", id=14)
    before = comments(alice.db, 14)
    bob.call("add_comment", id=14, text="bob got there first")
    # Alice's page predates bob's change: Trac refuses her first post as a mid-air collision.
    alice.call("add_comment", id=14, text="alice comments second")
    assert comments(alice.db, 14) == [*before, "bob got there first", "alice comments second"]
