"""Checkers that read a Trac environment's SQLite database directly, bypassing the web UI.

    tickets(db, status="!closed", owner="alice")   # rows as dicts, ordered by id
    comments(db, 7)                                # comment texts of ticket 7, oldest first

Filter values follow Trac's query syntax in its simplest form: "x" means equal to x, "!x" means
not equal to x. The database is opened read-only, so a checker never disturbs a running server.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TICKET_COLUMNS = (
    "id",
    "type",
    "time",
    "changetime",
    "component",
    "severity",
    "priority",
    "owner",
    "reporter",
    "cc",
    "version",
    "milestone",
    "status",
    "resolution",
    "summary",
    "description",
    "keywords",
)


@contextlib.contextmanager
def _connect(db: Path) -> Iterator[sqlite3.Connection]:
    if not Path(db).is_file():
        raise FileNotFoundError(f"no Trac database at {db}")
    conn = sqlite3.connect(f"file:{Path(db).resolve()}?mode=ro", uri=True, timeout=10.0)
    try:
        yield conn
    finally:
        conn.close()


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for name, value in filters.items():
        if name not in TICKET_COLUMNS:
            raise ValueError(f"unknown ticket column {name!r}; expected one of {TICKET_COLUMNS}")
        negate = isinstance(value, str) and value.startswith("!")
        if negate:
            value = value[1:]
        # Trac stores an empty owner or milestone as NULL or '' depending on the code path.
        column = f"COALESCE({name}, '')"
        clauses.append(f"{column} {'!=' if negate else '='} ?")
        args.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def tickets(db: Path, **filters: Any) -> list[dict[str, Any]]:
    """Tickets matching every filter (column=value, or column="!value"), ordered by id.

    Text columns come back as str ('' for NULL); `time` and `changetime` are Trac's microsecond
    timestamps.
    """
    where, args = _where(filters)
    columns = ", ".join(TICKET_COLUMNS)
    with _connect(db) as conn:
        rows = conn.execute(f"SELECT {columns} FROM ticket{where} ORDER BY id", args).fetchall()
    return [_row(row) for row in rows]


def _row(values: tuple[Any, ...]) -> dict[str, Any]:
    return {
        name: ("" if value is None else value)
        for name, value in zip(TICKET_COLUMNS, values, strict=True)
    }


def comments(db: Path, ticket_id: int) -> list[str]:
    """The non-empty comment texts of a ticket, oldest first, as written (wiki markup)."""
    query = (
        "SELECT newvalue FROM ticket_change WHERE ticket = ? AND field = 'comment'"
        " AND COALESCE(newvalue, '') != '' ORDER BY time, CAST(oldvalue AS INTEGER)"
    )
    with _connect(db) as conn:
        return [row[0] for row in conn.execute(query, (ticket_id,)).fetchall()]
