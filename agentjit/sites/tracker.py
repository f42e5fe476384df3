"""The tracker site, shaped after Trac (login, ticket query, ticket view, new ticket, comment).

The abstract state: which kind of page the tab shows, which ticket is open, and whether the
session is logged in. Contracts follow Trac with AccountManager: filing and commenting need a
login; a comment is added on the page of the ticket it is about. The tool bodies against `Page`
come with the runtime issue.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentjit.tools import Enum, Page, Site, State, Text

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


@site.tool(navigates=True, writes=("session",), ensures={"page": "home", "logged_in": True})
async def login(page: Page, user: str, password: str) -> None:
    """Log in through the login form."""


@site.tool(navigates=True, reads_page=True, idempotent=True, ensures={"page": "query"})
async def query_tickets(
    page: Page, status: str = "!closed", owner: str = "", component: str = ""
) -> list[Ticket]:
    """Run a custom ticket query and read the result rows."""


@site.tool(
    navigates=True,
    reads_page=True,
    idempotent=True,
    ensures={"page": "ticket", "ticket": "$id"},
)
async def view_ticket(page: Page, id: int) -> TicketDetails:
    """Open a ticket and read it."""


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


@site.tool(
    navigates=True,
    writes=("tickets",),
    commutative=True,
    requires={"logged_in": True, "page": "ticket", "ticket": "$id"},
)
async def add_comment(page: Page, id: int, text: str) -> None:
    """Add a comment to a ticket."""
