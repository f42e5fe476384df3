"""The tracker site, shaped after Trac (login, ticket query, ticket view, new ticket, comment).

The abstract state: which kind of page the tab shows, which ticket is open, and whether the
session is logged in. Contracts follow Trac with AccountManager: filing and commenting need a
login; a comment is added on the page of the ticket it is about.

The bodies drive Trac 1.6 with AccountManager's login form (see `agentjit.webapps.trac` for a
seeded instance). They navigate by relative paths (the runtime resolves them against the site's
base URL) and read a page's data in one `evaluate` that returns JSON. Elements are found by id,
class or href, never by visible text: Trac's stylesheet upper-cases the navigation labels.
`observe` maps the login page to "login", the custom query to "query", a ticket's page to
"ticket", and every other page (the wiki start page, the new-ticket form) to "home".
"""

from __future__ import annotations

import contextlib
import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from agentjit.tools import Enum, Page, PageError, Site, State, Text

site = Site(
    "tracker",
    state=State(
        page=Enum("home", "query", "ticket", "login"),
        ticket=Text(),
        logged_in=Enum(True, False),
    ),
    start={"logged_in": False},
    session_fields=("logged_in",),
    base_url="http://127.0.0.1:8002",
    version="1",
    doc="An issue tracker: log in, query tickets, read and file tickets, comment.",
)


class TrackerError(RuntimeError):
    """The tracker did not show what a tool expected (a failed login, a missing ticket)."""


@dataclass(frozen=True)
class Ticket:
    id: int
    summary: str
    status: str
    owner: str
    priority: str
    component: str


@dataclass(frozen=True)
class TicketDetails:
    id: int
    summary: str
    status: str
    owner: str
    reporter: str
    description: str
    comments: list[str]


COMMENT_BOX = "#propertyform textarea#comment"
SUBMIT = "#propertyform input[type=submit][name=submit]"  # "Create ticket", "Submit changes"
QUERY_COLUMNS = ("id", "summary", "status", "owner", "priority", "component")

# Which page the tab shows, in one round trip. A ticket counts as open only when its page renders
# it (#ticket), so Trac's "Ticket N does not exist" error page is not ticket N.
OBSERVE_JS = """(() => {
  const id = document.querySelector('#ticket .trac-id');
  return {
    path: location.pathname,
    ticket: id ? id.textContent.trim() : null,
    loginForm: !!document.querySelector('#acctmgr_loginform'),
    loggedIn: !!document.querySelector('#metanav form#logout, #metanav a[href$="/logout"]'),
    user: (document.querySelector('#metanav .trac-author-user') || {}).textContent || '',
  };
})()"""

# Rows of the custom query's result table, one object per ticket (group headers have no td.id).
QUERY_ROWS_JS = """(() => {
  const table = document.querySelector('table.listing.tickets');
  if (!table) return null;
  const clean = (el) => (el ? el.textContent.replace(/\\s+/g, ' ').trim() : '');
  return [...table.querySelectorAll('tbody tr')]
    .filter((tr) => tr.querySelector('td.id'))
    .map((tr) => Object.fromEntries(COLUMNS.map((c) => [c, clean(tr.querySelector('td.' + c))])));
})()""".replace("COLUMNS", json.dumps(list(QUERY_COLUMNS)))

TICKET_JS = """(() => {
  const text = (sel) => {
    const el = document.querySelector(sel);
    return el ? el.innerText.trim() : '';
  };
  if (!document.querySelector('#ticket .trac-id')) return null;
  return {
    id: text('#ticket .trac-id'),
    summary: text('#ticket h1 .summary'),
    status: text('#ticket .trac-status a') || text('#ticket .trac-status'),
    owner: text('#ticket td[headers="h_owner"]'),
    reporter: text('#ticket td[headers="h_reporter"]'),
    description: text('#ticket .description .searchable'),
    comments: [...document.querySelectorAll('#changelog .change .comment')]
      .map((el) => el.innerText.trim())
      .filter((t) => t),
  };
})()"""

# What Trac says went wrong: validation warnings, login errors, error pages.
PROBLEM_JS = """(() => [...document.querySelectorAll(
    '#warning, .system-message, #content.error .message, #content.error h1')]
  .map((el) => el.innerText.replace(/\\s+/g, ' ').trim()).filter((t) => t).join(' | '))()"""


async def _state(page: Page) -> dict[str, Any]:
    found = await page.evaluate(OBSERVE_JS)
    if not isinstance(found, dict):
        raise TrackerError(f"cannot read the page state at {await page.url()}: got {found!r}")
    return found


async def _problem(page: Page) -> str:
    """Trac's own words for what went wrong on this page, or where the page is."""
    said = await page.evaluate(PROBLEM_JS)
    return f"the page says {said!r}" if said else f"the page is {await page.url()}"


def _ticket_number(text: str | None) -> int | None:
    match = re.fullmatch(r"#?(\d+)", (text or "").strip())
    return int(match.group(1)) if match else None


def _page_kind(state: dict[str, Any]) -> str:
    path = str(state.get("path") or "/").rstrip("/")
    if state.get("loginForm") or path.endswith("/login"):
        return "login"
    if path.endswith("/query"):
        return "query"
    if re.search(r"/ticket/\d+$", path):
        return "ticket"
    return "home"


@site.observe
async def observe(page: Page) -> dict[str, Any]:
    """The abstract state read from the live page: page kind, open ticket, login."""
    state = await _state(page)
    kind = _page_kind(state)
    return {
        "page": kind,
        "ticket": _ticket_number(state.get("ticket")) if kind == "ticket" else None,
        "logged_in": bool(state.get("loggedIn")),
    }


def _query_path(status: str, owner: str, component: str) -> str:
    given = (("status", status), ("owner", owner), ("component", component))
    filters = [(name, value) for name, value in given if value]
    # Without any filter Trac substitutes its default query (open tickets of the current user),
    # so "everything" needs a filter that every ticket passes.
    args = filters or [("id", "!0")]
    args += [("col", c) for c in QUERY_COLUMNS] + [("order", "id"), ("max", "0")]
    return "/query?" + urllib.parse.urlencode(args, safe="!")


def _ticket_row(row: dict[str, str]) -> Ticket:
    number = _ticket_number(row.get("id"))
    if number is None:
        raise TrackerError(f"a query row has no ticket number: {row}")
    return Ticket(
        id=number,
        summary=row.get("summary", ""),
        status=row.get("status", ""),
        owner=row.get("owner", ""),
        priority=row.get("priority", ""),
        component=row.get("component", ""),
    )


@site.tool(navigates=True, writes=("session",), ensures={"page": "home", "logged_in": True})
async def login(page: Page, user: str, password: str) -> None:
    """Log in through the login form."""
    await page.goto("/login")
    state = await _state(page)
    if state.get("loggedIn") and not state.get("loginForm"):
        if str(state.get("user", "")).strip() != user:
            # Another user's session: log out first (the button posts a form token).
            await page.click("#metanav form#logout button, #metanav form#logout [type=submit]")
            await page.goto("/login")
        else:
            await page.goto("/")
            return
    await page.fill("#acctmgr_loginform #username", user)
    await page.fill("#acctmgr_loginform #password", password)
    await page.click("#acctmgr_loginform input[type=submit]")
    # A backend may hand control back before the posted form's redirect lands: wait (bounded)
    # for the logged-in marker or Trac's own error before reading the state.
    with contextlib.suppress(PageError):
        await page.wait_for("#metanav form#logout, #warning, .system-message", timeout_s=10.0)
    state = await _state(page)
    if not state.get("loggedIn") or str(state.get("user", "")).strip() != user:
        raise TrackerError(f"login as {user!r} failed: {await _problem(page)}")
    if _page_kind(state) != "home":
        await page.goto("/")


@site.tool(navigates=True, reads_page=True, idempotent=True, ensures={"page": "query"})
async def query_tickets(
    page: Page, status: str = "!closed", owner: str = "", component: str = ""
) -> list[Ticket]:
    """Run a custom ticket query and read the result rows."""
    await page.goto(_query_path(status, owner, component))
    rows = await page.evaluate(QUERY_ROWS_JS)
    if rows is None:
        raise TrackerError(f"the query page shows no ticket table: {await _problem(page)}")
    return [_ticket_row(row) for row in rows]


@site.tool(
    navigates=True,
    reads_page=True,
    idempotent=True,
    ensures={"page": "ticket", "ticket": "$id"},
)
async def view_ticket(page: Page, id: int) -> TicketDetails:
    """Open a ticket and read it."""
    await page.goto(f"/ticket/{int(id)}")
    found = await page.evaluate(TICKET_JS)
    if not isinstance(found, dict):
        raise TrackerError(f"ticket #{id} not found: {await _problem(page)}")
    if _ticket_number(found["id"]) != id:
        raise TrackerError(f"asked for ticket #{id}, the page shows {found['id']!r}")
    return TicketDetails(
        id=id,
        summary=found["summary"],
        status=found["status"],
        owner=found["owner"],
        reporter=found["reporter"],
        description=found["description"],
        comments=list(found["comments"]),
    )


@site.tool(
    navigates=True,
    writes=("tickets",),
    requires={"logged_in": True},
    ensures={"page": "ticket", "ticket": "$result"},
)
async def new_ticket(
    page: Page, summary: str, description: str, priority: str = "major", component: str = ""
) -> int:
    """File a new ticket; returns its number."""
    await page.goto("/newticket")
    if not await page.exists("#propertyform #field-summary"):
        raise TrackerError(f"no new-ticket form (not logged in?): {await _problem(page)}")
    await page.fill("#field-summary", summary)
    await page.fill("#field-description", description)
    await page.select("#field-priority", priority)
    if component:
        await page.select("#field-component", component)
    await page.click(SUBMIT)
    match = re.search(r"/ticket/(\d+)", urllib.parse.urlsplit(await page.url()).path)
    if not match:
        raise TrackerError(f"filing {summary!r} did not open a ticket: {await _problem(page)}")
    return int(match.group(1))


@site.tool(
    navigates=True,
    writes=("tickets",),
    commutative=True,
    requires={"logged_in": True, "page": "ticket", "ticket": "$id"},
)
async def add_comment(page: Page, id: int, text: str) -> None:
    """Add a comment to a ticket."""
    now = await observe(page)
    if now["page"] != "ticket" or now["ticket"] != id:
        raise TrackerError(
            f"add_comment needs ticket #{id} open, found page {now['page']!r} "
            f"(ticket {now['ticket']!r}) at {await page.url()}"
        )
    if not await page.exists(COMMENT_BOX):
        raise TrackerError(f"ticket #{id} offers no comment form (not logged in?)")
    # A comment posted after someone else changed the ticket since this page loaded is refused
    # ("mid-air collision"); the refusal re-renders the page up to date, so one retry suffices.
    for _ in range(2):
        await page.fill(COMMENT_BOX, text)
        await page.click(SUBMIT)
        # Trac redirects a saved change to /ticket/N#comment:K and re-renders a refused one.
        if re.search(r"#comment:\d+$", await page.url()):
            return
        if not await page.exists(COMMENT_BOX):
            break
    raise TrackerError(f"the comment on ticket #{id} was not saved: {await _problem(page)}")
