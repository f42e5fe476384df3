"""The deterministic content of the seeded Trac environment, as plain JSON-able data.

Nothing here imports Trac: `spec()` is handed to the populate script (which does) and is hashed to
name the cached template, so changing any value here reseeds. Ticket fields are derived from the
ticket number by cycles of coprime lengths, which gives a fixed but well-mixed spread of status,
owner, priority and component. Extra users beyond alice, bob and admin exist because the example
programs log in as them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

PROJECT_NAME = "Bench Tracker"

USERS: dict[str, str] = {
    "admin": "admin-pass",
    "alice": "s3cret",
    "bob": "s3cret",
    "carol": "s3cret",
    "triage": "s3cret",
    "ops": "hunter2",
    "qa": "qa-pass",
}
ADMINS = ("admin",)

COMPONENTS: dict[str, str] = {"checkout": "alice", "ui": "bob", "inventory": "carol"}
MILESTONES = ("1.0", "1.1", "2.0")
PRIORITIES = ("blocker", "critical", "major", "minor", "trivial")
STATUSES = ("new", "assigned", "accepted", "reopened", "closed")

# Ticket n gets SUMMARIES[n - 1]; its component is the n-th of the cycle checkout, ui, inventory.
SUMMARIES = (
    "Checkout page times out under load",
    "Search box loses focus after typing",
    "Stock count goes negative after returns",
    "Payment form rejects valid postcodes",
    "Cart badge shows stale item count",
    "Low-stock alert email never sent",
    "Coupon codes applied twice",
    "Dark mode toggle resets on reload",
    "Warehouse import skips the last row",
    "Order confirmation shows wrong total",
    "Product images overflow on mobile",
    "Restock date not shown on product page",
    "Guest checkout asks for a password",
    "Keyboard focus trapped in the date picker",
    "Inventory export uses the wrong encoding",
    "Shipping cost missing for Northern Ireland",
    "Tooltip text cut off in Safari",
    "Reserved items not released after timeout",
    "Tax line rounds the wrong way",
    "search box loses focus after typing",  # a case-insensitive duplicate of #2
    "Barcode scanner input drops leading zeros",
    "Gift message not saved with the order",
    "Modal dialog cannot be closed with Escape",
    "Supplier sync runs twice every night",
    "Refund button enabled for unpaid orders",
    "Sidebar flickers when scrolling",
    "Bin locations missing from pick list",
    "Saved cards list shows expired cards",
    "Breadcrumbs repeat the category name",
    "Stocktake report totals do not match",
)

_COMPONENT_CYCLE = ("checkout", "ui", "inventory")
_OWNER_CYCLE = ("alice", "bob", "carol", "")
_STATUS_CYCLE = ("new", "assigned", "accepted", "new", "closed", "reopened", "new")
_RESOLUTION_CYCLE = ("fixed", "wontfix", "fixed", "duplicate")
_REPORTER_CYCLE = ("alice", "bob", "admin")
_TYPE_CYCLE = ("defect", "enhancement", "task")
_MILESTONE_CYCLE = (*MILESTONES, "")

EPOCH = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
"""Ticket n is created EPOCH + n hours; comments follow a day later, a minute apart."""

SEED_COMMENTS: tuple[tuple[int, str, str], ...] = (
    (1, "bob", "I can reproduce this with fifty concurrent users."),
    (1, "alice", "Looking into the connection pool settings."),
    (2, "alice", "Happens in Firefox and Chromium alike."),
)

WIKI_PAGES: dict[str, str] = {
    "ReleaseChecklist": (
        "= Release checklist =\n"
        " 1. Run the test suite\n"
        " 1. Close or move the milestone's open tickets\n"
        " 1. Tag the release\n"
    ),
}

CONFIG: tuple[tuple[str, str, str], ...] = (
    ("components", "acct_mgr.*", "enabled"),
    ("components", "acct_mgr.register.*", "disabled"),
    ("components", "trac.web.auth.loginmodule", "disabled"),
    ("account-manager", "password_store", "HtPasswdStore"),
    ("account-manager", "htpasswd_file", "htpasswd"),
    ("account-manager", "htpasswd_hash_type", "sha256"),
    # Without these two, the first login moves every permission of `authenticated` to a
    # placeholder group and redirects to a setup wizard, and sign-up waits for an email.
    ("account-manager", "auth_init", "false"),
    ("account-manager", "verify_email", "false"),
    ("account-manager", "reset_password", "false"),
    ("account-manager", "login_attempt_max_count", "0"),
    ("logging", "log_type", "none"),
    # The default logo is a missing file: every page would wait for its 404 (about 0.2 s).
    ("header_logo", "src", ""),
    ("header_logo", "alt", PROJECT_NAME),
)


def ticket_fields(n: int) -> dict[str, str]:
    """The fields of seeded ticket `n` (1-based) as they are inserted."""
    i = n - 1
    owner = _OWNER_CYCLE[i % len(_OWNER_CYCLE)]
    status = _STATUS_CYCLE[i % len(_STATUS_CYCLE)]
    if not owner and status in ("assigned", "accepted"):
        status = "new"  # nobody can hold an unowned ticket
    return {
        "summary": SUMMARIES[i],
        "description": f"Seeded ticket {n}: {SUMMARIES[i].lower()}.",
        "component": _COMPONENT_CYCLE[i % len(_COMPONENT_CYCLE)],
        "priority": PRIORITIES[i % len(PRIORITIES)],
        "owner": owner,
        "status": status,
        "reporter": _REPORTER_CYCLE[(i // 3) % len(_REPORTER_CYCLE)],
        "type": _TYPE_CYCLE[(i // 2) % len(_TYPE_CYCLE)],
        "milestone": _MILESTONE_CYCLE[(i // 4) % len(_MILESTONE_CYCLE)],
        "version": "",
    }


def tickets() -> list[dict[str, Any]]:
    """Every seeded ticket: fields, creation time, and how a closed one was closed."""
    out: list[dict[str, Any]] = []
    closed = 0
    for n in range(1, len(SUMMARIES) + 1):
        fields = ticket_fields(n)
        ticket: dict[str, Any] = {"id": n, "fields": fields, "time": _iso(EPOCH, hours=n)}
        if fields["status"] == "closed":
            fields["status"] = "new"  # inserted open, then closed as a change with a comment
            resolution = _RESOLUTION_CYCLE[closed % len(_RESOLUTION_CYCLE)]
            closed += 1
            ticket["close"] = {
                "resolution": resolution,
                "author": fields["owner"] or "admin",
                "comment": f"Closed as {resolution}.",
                "time": _iso(EPOCH, hours=n + 2),
            }
        out.append(ticket)
    return out


def spec() -> dict[str, Any]:
    """Everything the populate script needs, JSON-serialisable."""
    return {
        "project": PROJECT_NAME,
        "config": [list(option) for option in CONFIG],
        "users": USERS,
        "admins": list(ADMINS),
        "components": COMPONENTS,
        "milestones": list(MILESTONES),
        "tickets": tickets(),
        "comments": [
            {"ticket": t, "author": a, "text": text, "time": _iso(EPOCH, days=2, minutes=k)}
            for k, (t, a, text) in enumerate(SEED_COMMENTS)
        ],
        "wiki": {"author": "admin", "time": _iso(EPOCH, days=3), "pages": WIKI_PAGES},
    }


def _iso(base: datetime, **delta: int) -> str:
    return (base + timedelta(**delta)).isoformat()
