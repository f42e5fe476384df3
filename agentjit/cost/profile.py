"""The profile store: one append-only SQLite file of measurements the cost model learns from.

The runtime appends one row per executed op (a latency, a loop's trip count, a branch outcome, a
tool output list's length); the cost model reads them back by (kind, key). The file uses WAL
mode and a busy timeout so a run can write while `agentjit profile show` reads. Samples move
between machines as JSON lines (`export_jsonl` / `import_jsonl`); an import is all-or-nothing and a
bad line is reported as `file:line` with what was expected.

Latencies depend on the browser backend (a Selenium click is ten times a CDP one), so each row
names the backend that measured it, and a store reads latencies for one backend (`backend=`,
default `cdp`, the runtime's default): that backend's samples, or, when it has none for a key,
the backend-agnostic ones (rows with no backend: written before backends were recorded, or
imported without one). Counts (trips, branches, lengths) do not depend on the backend and are
read from every row. A version-1 file is upgraded in place on open (the column is added, NULL
for its old rows).
"""

from __future__ import annotations

import copy
import json
import math
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from agentjit.ir import (
    SOURCES,
    UNKNOWN,
    CompilerError,
    Diagnostic,
    Location,
    Operation,
    error,
)

if TYPE_CHECKING:
    import numpy as np

SCHEMA_VERSION = 2
DEFAULT_BACKEND = "cdp"
"""The backend whose latencies a store reads unless told otherwise: the runtime's default."""
KINDS = ("latency", "trips", "branch", "length")
"""latency: seconds per op (key: tool, primitive or `llm:<model>`); trips: a loop's trip count
(key: the loop's location); branch: 1.0 taken / 0.0 not (key: the if's location); length: a tool
output list's length (key: the tool)."""

_FIELDS = (
    "kind",
    "key",
    "value",
    "prompt_tokens",
    "output_tokens",
    "run",
    "recorded_at",
    "backend",
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value REAL NOT NULL,
    prompt_tokens INTEGER,
    output_tokens INTEGER,
    run TEXT,
    recorded_at REAL NOT NULL,
    backend TEXT
);
CREATE INDEX IF NOT EXISTS samples_kind_key ON samples (kind, key);
"""


class ProfileError(CompilerError):
    """The profile store could not be opened, or an import was rejected."""

    @property
    def diagnostic(self) -> Diagnostic:
        return self.diagnostics[0]


@dataclass(frozen=True)
class Sample:
    """One measurement. `recorded_at` 0 means "now" (set when appended); `backend` None means
    not known (backend-agnostic)."""

    kind: str
    key: str
    value: float
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    run: str | None = None
    recorded_at: float = 0.0
    backend: str | None = None


def op_key(function: str, op: Operation) -> str:
    """The key a loop's trip counts or a branch's outcomes are stored under: where it is."""
    loc = op.loc
    return f"{function}@{Path(loc.file).name}:{loc.line}:{loc.col}"


def sample_problem(s: Sample) -> str | None:
    """What is wrong with `s`, as "found ...; expected ...", or None when it is valid."""
    if s.kind not in KINDS:
        return f"unknown kind {s.kind!r}; expected one of {', '.join(KINDS)}"
    if not isinstance(s.key, str) or not s.key:
        return f"key {s.key!r} is invalid; expected a non-empty string"
    if not _is_real(s.value) or not math.isfinite(s.value):
        return f"value {s.value!r} is invalid; expected a finite number"
    if s.kind == "branch" and s.value not in (0.0, 1.0):
        return f"branch value {s.value!r} is invalid; expected 1 (taken) or 0 (not taken)"
    if s.value < 0:
        unit = "seconds" if s.kind == "latency" else "a count"
        return f"{s.kind} value {s.value!r} is negative; expected {unit} >= 0"
    for name in ("prompt_tokens", "output_tokens"):
        tokens = getattr(s, name)
        if tokens is not None and (not _is_int(tokens) or tokens < 0):
            return f"{name} {tokens!r} is invalid; expected an integer >= 0 or null"
    if s.run is not None and not isinstance(s.run, str):
        return f"run {s.run!r} is invalid; expected a string or null"
    if s.backend is not None and (not isinstance(s.backend, str) or not s.backend):
        return f"backend {s.backend!r} is invalid; expected a backend name (cdp, selenium) or null"
    if not _is_real(s.recorded_at) or not math.isfinite(s.recorded_at) or s.recorded_at < 0:
        return f"recorded_at {s.recorded_at!r} is invalid; expected a Unix time in seconds >= 0"
    return None


class ProfileStore:
    """Append-only samples in one SQLite file (or `:memory:`); latencies read for `backend`
    (None: every row, whatever measured it)."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, backend: str | None = DEFAULT_BACKEND
    ) -> None:
        self.path = str(path) if path is not None else str(self.default_path())
        self.backend = backend
        self._conn = self._open(self.path)
        self._read: dict[tuple[object, ...], np.ndarray] = {}
        """What `values` read, until the file changes: a planner builds a fresh `CostModel`
        per plan, and reading a window of samples per op costs more than ranking them."""
        self._read_version = -1

    def for_backend(self, backend: str | None) -> ProfileStore:
        """A view of the same file (same connection: close only one of them) that reads the
        latencies of `backend`."""
        view = copy.copy(self)
        view.backend = backend
        return view

    @classmethod
    def default_path(cls) -> Path:
        """`$AGENTJIT_PROFILE` if set, else `~/.cache/agentjit/profile.sqlite`."""
        env = os.environ.get("AGENTJIT_PROFILE")
        return Path(env) if env else Path.home() / ".cache" / "agentjit" / "profile.sqlite"

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ProfileError(_open_error(path, f"cannot open it ({exc})")) from None
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            _init_schema(conn, path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ProfileError(_open_error(path, str(exc))) from None
        except ProfileError:
            conn.close()
            raise
        return conn

    def append(self, samples: Iterable[Sample]) -> int:
        """Write `samples` in one transaction; a ValueError (nothing written) if one is invalid."""
        rows = []
        for i, s in enumerate(samples):
            problem = sample_problem(s)
            if problem is not None:
                raise ValueError(f"sample #{i} ({s.kind}, {s.key!r}): {problem}")
            rows.append(_row(s))
        with _transaction(self._conn):
            self._conn.executemany(
                "INSERT INTO samples (kind, key, value, prompt_tokens, output_tokens, run,"
                " recorded_at, backend) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        self._read.clear()
        return len(rows)

    def values(self, kind: str, key: str, limit: int | None = None) -> np.ndarray:
        """The values of (kind, key) in the order recorded; only the newest `limit` if given.
        Latencies are the store's backend's, else the backend-agnostic ones (module doc)."""
        read = self._reads()
        memo = (kind, key, limit, self.backend)
        if memo not in read:
            read[memo] = self._values(kind, key, limit)
        return read[memo].copy()

    def _reads(self) -> dict[tuple[object, ...], np.ndarray]:
        """The read cache, emptied when another connection has committed since the last read
        (`data_version` changes then; this store's own appends empty it themselves)."""
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._read_version:
            self._read.clear()
            self._read_version = version
        return self._read

    def _values(self, kind: str, key: str, limit: int | None) -> np.ndarray:
        import numpy as np

        sql = "SELECT value FROM samples WHERE kind = ? AND key = ?"
        order = " ORDER BY id DESC"
        if kind == "latency" and self.backend is not None:
            rows = self._query(sql + " AND backend = ?" + order, (kind, key, self.backend), limit)
            if not rows:
                rows = self._query(sql + " AND backend IS NULL" + order, (kind, key), limit)
        else:
            rows = self._query(sql + order, (kind, key), limit)
        return np.array([r[0] for r in reversed(rows)], dtype=np.float64)

    def llm_samples(self, model: str, limit: int | None = None) -> np.ndarray:
        """(n, 3) float64 rows of (latency, prompt_tokens, output_tokens) for `model`; rows
        without token counts are left out. Only the newest `limit` if given."""
        sql = (
            "SELECT value, prompt_tokens, output_tokens FROM samples WHERE kind = 'latency'"
            " AND key = ? AND prompt_tokens IS NOT NULL AND output_tokens IS NOT NULL"
            " ORDER BY id DESC"
        )
        import numpy as np

        rows = self._query(sql, (f"llm:{model}",), limit)
        return np.array(list(reversed(rows)), dtype=np.float64).reshape(-1, 3)

    def keys(self, kind: str | None = None) -> list[tuple[str, str, int]]:
        """(kind, key, count) for every key, sorted by kind then key."""
        where, params = ("WHERE kind = ?", (kind,)) if kind is not None else ("", ())
        sql = f"SELECT kind, key, COUNT(*) FROM samples {where} GROUP BY kind, key ORDER BY 1, 2"
        return [(k, key, int(n)) for k, key, n in self._conn.execute(sql, params)]

    def rows(self, kind: str | None = None) -> Iterator[Sample]:
        """Every sample in the order recorded (of one kind, if given)."""
        where, params = ("WHERE kind = ?", (kind,)) if kind is not None else ("", ())
        sql = f"SELECT {', '.join(_FIELDS)} FROM samples {where} ORDER BY id"
        for row in self._conn.execute(sql, params):
            yield Sample(*row)

    def export_jsonl(self, out: TextIO, kind: str | None = None) -> int:
        """Write every sample (of one kind, if given) as one JSON object per line; the count."""
        count = 0
        for s in self.rows(kind):
            obj = {f: getattr(s, f) for f in _FIELDS if getattr(s, f) is not None}
            out.write(json.dumps(obj) + "\n")
            count += 1
        return count

    def import_jsonl(self, src: TextIO, source_name: str = "<stdin>") -> int:
        """Append the samples of a JSON-lines text; a bad line raises ProfileError naming
        `source_name:line` and what was expected, and then nothing is written."""
        text = src.read()
        samples = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            sample, problem = _parse_line(line)
            if problem is not None:
                raise _import_error(source_name, text, lineno, line, problem)
            samples.append(sample)
        return self.append(samples)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ProfileStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _query(self, sql: str, params: tuple[Any, ...], limit: int | None) -> list[tuple]:
        if limit is not None:
            if limit < 0:
                raise ValueError(f"limit must be >= 0 or None, got {limit!r}")
            sql, params = sql + " LIMIT ?", (*params, limit)
        return self._conn.execute(sql, params).fetchall()


# ---- opening ----


def _init_schema(conn: sqlite3.Connection, path: str) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        _enable_wal(conn, path)
        return
    if version == 1:
        _enable_wal(conn, path)
        _upgrade_from_1(conn)
        return
    if version != 0:
        raise ProfileError(
            _open_error(
                path,
                f"its schema version is {version}, this agentjit reads versions 1 and"
                f" {SCHEMA_VERSION}",
            )
        )
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables - {"samples"}:
        found = ", ".join(sorted(tables))
        raise ProfileError(_open_error(path, f"it holds other tables ({found})"))
    _enable_wal(conn, path)
    with _transaction(conn):
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _upgrade_from_1(conn: sqlite3.Connection) -> None:
    """Version 1 -> 2: add the backend column (NULL, backend-agnostic, for the old rows)."""
    with _transaction(conn):
        # Another process may have upgraded it between our check and our write lock.
        if conn.execute("PRAGMA user_version").fetchone()[0] == 1:
            conn.execute("ALTER TABLE samples ADD COLUMN backend TEXT")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _enable_wal(conn: sqlite3.Connection, path: str) -> None:
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the body raises (autocommit connections)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _open_error(path: str, reason: str) -> Diagnostic:
    return error(
        "profile-open",
        f"{path} is not an agentjit profile store: {reason}",
        UNKNOWN,
        "pass --db (or set AGENTJIT_PROFILE) to a profile store, or to a new file to create one",
    )


# ---- rows and JSON lines ----


def _row(s: Sample) -> tuple[Any, ...]:
    recorded = s.recorded_at if s.recorded_at else time.time()
    tokens = [None if t is None else int(t) for t in (s.prompt_tokens, s.output_tokens)]
    return (s.kind, s.key, float(s.value), *tokens, s.run, float(recorded), s.backend)


def _parse_line(line: str) -> tuple[Sample | None, str | None]:
    """The sample on one JSON line, or the problem with it."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg}); expected one JSON object per line"
    if not isinstance(obj, dict):
        return None, f"found a JSON {type(obj).__name__}; expected an object"
    missing = [f for f in ("kind", "key", "value") if f not in obj]
    if missing:
        return None, f"missing {', '.join(missing)}; expected fields kind, key and value"
    unknown = sorted(set(obj) - set(_FIELDS))
    if unknown:
        return None, f"unknown field {unknown[0]!r}; expected only {', '.join(_FIELDS)}"
    if not isinstance(obj["kind"], str):
        return None, f"kind {obj['kind']!r} is invalid; expected one of {', '.join(KINDS)}"
    if not _is_real(obj["value"]):
        return None, f"value {obj['value']!r} is not a number; expected a finite number"
    sample = Sample(**{"recorded_at": 0.0, **{k: v for k, v in obj.items() if v is not None}})
    problem = sample_problem(sample)
    return (sample, None) if problem is None else (None, problem)


def _import_error(source: str, text: str, lineno: int, line: str, problem: str) -> ProfileError:
    if source.startswith("<"):
        SOURCES.add(source, text)  # lets the diagnostic show the line when it came from stdin
    loc = Location(source, lineno, 1, lineno, len(line) + 1)
    hint = 'each line: {"kind": "latency", "key": "shop.search", "value": 0.25} (optional ' + (
        "prompt_tokens, output_tokens, run, recorded_at, backend); nothing was imported"
    )
    return ProfileError(error("profile-import", problem, loc, hint))


def _is_real(v: object) -> bool:
    return _is_int(v) or isinstance(v, float) or _is_numpy(v, "floating")


def _is_int(v: object) -> bool:
    return not isinstance(v, bool) and (isinstance(v, int) or _is_numpy(v, "integer"))


def _is_numpy(v: object, kind: str) -> bool:
    """A NumPy scalar of `kind`; without importing NumPy (a value can only be a NumPy scalar
    once something else has imported it), so that the CLI starts fast."""
    np = sys.modules.get("numpy")
    return np is not None and isinstance(v, getattr(np, kind))
