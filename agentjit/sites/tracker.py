"""The tracker site, shaped after Trac (login, ticket query, ticket view, new ticket, comment).

Declarations only for now: the signatures and effects the compiler types programs against. The
implementations against `Page`, and the contracts on the abstract page state, come with the tool
protocol and runtime issues.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentjit.tools import Page, Site

site = Site(
    "tracker",
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


@site.tool(navigates=True, writes=("session",))
async def login(page: Page, user: str, password: str) -> None:
    """Log in through the login form."""


@site.tool(navigates=True, reads_page=True, idempotent=True)
async def query_tickets(
    page: Page, status: str = "!closed", owner: str = "", component: str = ""
) -> list[Ticket]:
    """Run a custom ticket query and read the result rows."""


@site.tool(navigates=True, reads_page=True, idempotent=True)
async def view_ticket(page: Page, id: int) -> TicketDetails:
    """Open a ticket and read it."""


@site.tool(navigates=True, writes=("tickets",))
async def new_ticket(
    page: Page, summary: str, description: str, priority: str = "major", component: str = ""
) -> int:
    """File a new ticket; returns its number."""


@site.tool(navigates=True, writes=("tickets",), commutative=True)
async def add_comment(page: Page, id: int, text: str) -> None:
    """Add a comment to a ticket."""
