"""The plan cache: a task seen before compiles from its stored program, with no LLM call.

Keyed by the task's template (parameters abstracted, see `task.py`), the site's name and
version, and the model that wrote the plan, so a new site version or another model plans
afresh. The stored program is lifted over the parameters it spells; parameters it does not
spell are stored by value and must match. A hit is re-checked by the compiler before use: a
cached plan that no longer compiles (the site's tools changed) is dropped and counts as a miss.

One SQLite file (`$AGENTJIT_PLAN_CACHE`, else `~/.cache/agentjit/plans.db`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from agentjit.planner.task import Param, instantiate, lift, normalize_task

_SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (
    template TEXT NOT NULL,
    site TEXT NOT NULL,
    site_version TEXT NOT NULL,
    model TEXT NOT NULL,
    fixed TEXT NOT NULL,
    program TEXT NOT NULL,
    task TEXT NOT NULL,
    created REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (template, site, site_version, model, fixed)
)
"""


@dataclass(frozen=True)
class CacheKey:
    template: str
    site: str
    site_version: str
    model: str


@dataclass(frozen=True)
class CachedPlan:
    """One stored plan, as `agentjit cache ls` shows it."""

    key: CacheKey
    task: str
    program: str
    hits: int
    created: float


class PlanCache:
    """Lookup and store of plans by task template (see module doc)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else self.default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(_SCHEMA)

    @staticmethod
    def default_path() -> Path:
        env = os.environ.get("AGENTJIT_PLAN_CACHE")
        return Path(env) if env else Path.home() / ".cache" / "agentjit" / "plans.db"

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10.0)) as db, db:
            yield db

    def lookup(self, task: str, site: str, site_version: str, model: str) -> str | None:
        """The program for `task` if a plan for its template is stored, else None."""
        template, params = normalize_task(task)
        with self._db() as db:
            rows = db.execute(
                "SELECT fixed, program FROM plans WHERE template=? AND site=? "
                "AND site_version=? AND model=? ORDER BY created DESC",
                (template, site, site_version, model),
            ).fetchall()
            for fixed_json, program in rows:
                if _fixed_match(json.loads(fixed_json), params):
                    db.execute(
                        "UPDATE plans SET hits = hits + 1 WHERE template=? AND site=? "
                        "AND site_version=? AND model=? AND fixed=?",
                        (template, site, site_version, model, fixed_json),
                    )
                    return instantiate(program, params)
        return None

    def store(self, task: str, site: str, site_version: str, model: str, program: str) -> None:
        """Remember `program` as the plan for `task`'s template."""
        template, params = normalize_task(task)
        lifted_program, lifted = lift(program, params)
        fixed = {str(i): p.value for i, p in enumerate(params) if not lifted[i]}
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO plans VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    template,
                    site,
                    site_version,
                    model,
                    json.dumps(fixed, sort_keys=True),
                    lifted_program,
                    task,
                    time.time(),
                ),
            )

    def forget(self, task: str, site: str, site_version: str, model: str) -> int:
        """Drop the plans stored for `task`'s template; how many were dropped."""
        template, _ = normalize_task(task)
        with self._db() as db:
            cursor = db.execute(
                "DELETE FROM plans WHERE template=? AND site=? AND site_version=? AND model=?",
                (template, site, site_version, model),
            )
            return cursor.rowcount

    def entries(self) -> list[CachedPlan]:
        with self._db() as db:
            rows = db.execute(
                "SELECT template, site, site_version, model, task, program, hits, created "
                "FROM plans ORDER BY created"
            ).fetchall()
        return [CachedPlan(CacheKey(*row[:4]), row[4], row[5], row[6], row[7]) for row in rows]

    def clear(self) -> int:
        with self._db() as db:
            return db.execute("DELETE FROM plans").rowcount


def _fixed_match(fixed: dict[str, str], params: list[Param]) -> bool:
    return all(int(i) < len(params) and params[int(i)].value == v for i, v in fixed.items())
