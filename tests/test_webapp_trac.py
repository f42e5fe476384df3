"""The Trac fixture against the real Trac 1.6 + AccountManager: seeding, caching, serving, checkers.

Pages are fetched with urllib (no browser) and parsed with the standard library's HTML parser, so
what the checkers read from SQLite is compared with what Trac itself renders.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from agentjit.webapps import AppError, AppServer
from agentjit.webapps.trac import (
    comments,
    data,
    db_path,
    fresh_copy,
    seeded_template,
    start,
    tickets,
)

pytestmark = pytest.mark.webapp

COLUMNS = ("id", "summary", "status", "owner", "priority", "component")


class ListingParser(HTMLParser):
    """Collects the cells of `table.listing.tickets` rows, keyed by each cell's class."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self._in_table = False
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and {"listing", "tickets"} <= set(classes):
            self._in_table = True
        elif self._in_table and tag == "tr" and self._cell is None:
            self.rows.append({})
        elif self._in_table and tag == "td" and classes and self.rows:
            self._cell = classes[0]
            self.rows[-1][self._cell] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None
        elif tag == "table":
            self._in_table = False

    def handle_data(self, text: str) -> None:
        if self._cell is not None:
            self.rows[-1][self._cell] += text


def listing(html: str) -> list[dict[str, str]]:
    parser = ListingParser()
    parser.feed(html)
    return [{k: " ".join(v.split()) for k, v in row.items()} for row in parser.rows if "id" in row]


def fetch(url: str, opener: urllib.request.OpenerDirector | None = None) -> str:
    with (opener or urllib.request.build_opener()).open(url, timeout=10) as response:
        return response.read().decode()


@pytest.fixture(scope="session")
def template() -> Path:
    return seeded_template()


@pytest.fixture(scope="module")
def app(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    base = tmp_path_factory.mktemp("trac")
    env_dir = fresh_copy(template, base / "env")
    with start(env_dir, log_path=base / "tracd.log") as server:
        yield server


def test_seeded_content_is_the_declared_data(template: Path) -> None:
    rows = tickets(db_path(template))
    expected = data.tickets()
    assert [r["id"] for r in rows] == list(range(1, len(expected) + 1))
    for row, spec in zip(rows, expected, strict=True):
        fields = spec["fields"]
        for name in ("summary", "owner", "priority", "component", "reporter", "milestone"):
            assert row[name] == fields[name], f"ticket #{row['id']} {name}"
        want_status = "closed" if "close" in spec else fields["status"]
        assert row["status"] == want_status, f"ticket #{row['id']} status"
    assert {r["status"] for r in rows} == set(data.STATUSES)
    assert {r["component"] for r in rows} == set(data.COMPONENTS)
    assert {r["priority"] for r in rows} == set(data.PRIORITIES)
    closed = tickets(db_path(template), status="closed")
    assert closed and all(r["resolution"] for r in closed)
    assert comments(db_path(template), 1) == [text for t, _, text in data.SEED_COMMENTS if t == 1]
    assert comments(db_path(template), closed[0]["id"]) == [f"Closed as {closed[0]['resolution']}."]


def test_template_is_cached_atomically_and_deterministic(template: Path, tmp_path: Path) -> None:
    first = seeded_template(tmp_path)
    began = time.monotonic()
    again = seeded_template(tmp_path)
    assert again == first and time.monotonic() - began < 0.5, "the second call reseeded"
    assert [p.name for p in tmp_path.iterdir()] == [first.name], "staging left behind"
    assert first.name == template.name
    assert tickets(db_path(first)) == tickets(db_path(template))


def test_fresh_copy_refuses_a_non_empty_destination(template: Path, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with pytest.raises(AppError, match="expected an empty directory"):
        fresh_copy(template, tmp_path / "busy")
    with pytest.raises(AppError, match="not a seeded Trac environment"):
        start(tmp_path / "busy")


def test_checker_filters(template: Path) -> None:
    db = db_path(template)
    open_alice = tickets(db, status="!closed", owner="alice")
    assert open_alice and all(r["owner"] == "alice" and r["status"] != "closed" for r in open_alice)
    unowned = tickets(db, owner="")
    assert unowned and all(r["owner"] == "" for r in unowned)
    with pytest.raises(ValueError, match="unknown ticket column"):
        tickets(db, colour="red")


def test_query_page_lists_what_the_database_holds(app: AppServer) -> None:
    cols = "".join(f"&col={c}" for c in COLUMNS)
    for filters in ({"status": "!closed", "owner": "alice"}, {"component": "ui"}, {"id": "!0"}):
        url = f"{app.url}/query?{urllib.parse.urlencode(filters)}{cols}&order=id&max=0"
        shown = listing(fetch(url))
        db_filters = {k: v for k, v in filters.items() if k != "id"}
        expected = tickets(app.extra["db"], **db_filters)  # type: ignore[arg-type]
        assert [int(r["id"].lstrip("#")) for r in shown] == [t["id"] for t in expected], filters
        for row, want in zip(shown, expected, strict=True):
            assert {c: row[c] for c in COLUMNS[1:]} == {c: want[c] for c in COLUMNS[1:]}


def test_ticket_page_shows_fields_and_comments(app: AppServer) -> None:
    html = fetch(f"{app.url}/ticket/1")
    ticket = tickets(app.extra["db"], id=1)[0]  # type: ignore[arg-type]
    assert f'<span class="summary">{ticket["summary"]}</span>' in html
    assert 'class="trac-status"' in html and ticket["status"] in html
    for text in comments(app.extra["db"], 1):  # type: ignore[arg-type]
        assert text in html
    with pytest.raises(urllib.error.HTTPError) as missing:
        fetch(f"{app.url}/ticket/9999")
    assert missing.value.code == 404


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _login(app: AppServer, user: str, password: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    form = fetch(f"{app.url}/login", opener)
    assert 'id="acctmgr_loginform"' in form
    assert 'id="username"' in form and 'id="password"' in form
    token = re.search(r'name="__FORM_TOKEN" value="([^"]+)"', form)
    assert token, "the login form carries no __FORM_TOKEN"
    body = urllib.parse.urlencode(
        {"__FORM_TOKEN": token.group(1), "username": user, "password": password, "referer": ""}
    ).encode()
    with opener.open(f"{app.url}/login", body, timeout=10) as response:
        response.read()
    return opener


def test_login_form_works_and_grants_ticket_creation(app: AppServer) -> None:
    opener = _login(app, "alice", data.USERS["alice"])
    home = fetch(f"{app.url}/", opener)
    assert "logged in as alice" in _text(home)
    assert 'href="/newticket"' in home
    assert 'id="field-summary"' in fetch(f"{app.url}/newticket", opener)

    rejected = _login(app, "alice", "wrong-password")
    assert "logged in as" not in _text(fetch(f"{app.url}/", rejected))
    with pytest.raises(urllib.error.HTTPError) as denied:
        fetch(f"{app.url}/newticket", rejected)
    assert denied.value.code == 403


def test_stop_ends_the_whole_process_group(template: Path, tmp_path: Path) -> None:
    server = start(fresh_copy(template, tmp_path / "env"))
    assert fetch(server.url + "/query?id=1")
    pgid = os.getpgid(server.process.pid)
    assert pgid == server.process.pid, "tracd should lead its own process group"
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    with pytest.raises(urllib.error.URLError):
        fetch(server.url + "/")
