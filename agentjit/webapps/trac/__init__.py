"""The real Trac issue tracker (with AccountManager's login form), seeded and served on 127.0.0.1.

    template = seeded_template()                 # seeded once, cached under ~/.cache
    env_dir = fresh_copy(template, tmp / "env")  # a private copy per test or task
    with start(env_dir) as app:                  # tracd on a free port
        ...                                      # app.url; app.extra["db"] is the SQLite file
        tickets(app.extra["db"], status="!closed", owner="alice")

The environment holds the users, components, milestones, ~30 tickets, comments and the wiki page
listed in `data`; `data.USERS` gives the passwords (alice and bob: "s3cret", admin: "admin-pass",
admin holds TRAC_ADMIN; every logged-in user may file, change and comment on tickets).
Seeding runs `populate.py` in a child interpreter, so this process never imports Trac.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from agentjit.webapps.server import AppError, AppServer, free_port, run_checked
from agentjit.webapps.templates import cached_template, dist_version, fresh_copy_of
from agentjit.webapps.trac import data
from agentjit.webapps.trac.db import comments, tickets

__all__ = ["comments", "db_path", "fresh_copy", "seed", "seeded_template", "start", "tickets"]

_POPULATE = Path(__file__).with_name("populate.py")


def db_path(env_dir: Path) -> Path:
    """The SQLite database of a Trac environment."""
    return Path(env_dir) / "db" / "trac.db"


def seed(env_dir: Path, *, timeout_s: float = 300) -> Path:
    """Create a Trac environment at `env_dir` (absent or empty) holding the `data` content."""
    env_dir = Path(env_dir).resolve()
    if env_dir.exists() and any(env_dir.iterdir()):
        raise AppError(f"cannot seed Trac into {env_dir}: expected an empty directory")
    env_dir.parent.mkdir(parents=True, exist_ok=True)
    run_checked(
        # -P: the script's directory holds modules (data, db) that must not shadow anything.
        [sys.executable, "-P", str(_POPULATE), str(env_dir)],
        stdin=json.dumps(data.spec()),
        timeout_s=timeout_s,
    )
    if not db_path(env_dir).is_file():
        raise AppError(f"seeding Trac finished but left no database at {db_path(env_dir)}")
    return env_dir


def _seed_hash() -> str:
    """Names a template by everything that decides its content."""
    h = hashlib.sha256()
    h.update(json.dumps(data.spec(), sort_keys=True).encode())
    h.update(_POPULATE.read_bytes())
    for dist in ("trac", "TracAccountManager", "passlib"):
        h.update(f"{dist}={dist_version(dist)};".encode())
    return h.hexdigest()[:16]


def _finished(env_dir: Path) -> bool:
    return db_path(env_dir).is_file()


def seeded_template(cache_root: Path | None = None) -> Path:
    """A seeded environment cached as `cache_root/trac-<hash>`; seeded on first use only
    (`agentjit.webapps.templates`). Treat it as read-only and work on a `fresh_copy`."""
    return cached_template(f"trac-{_seed_hash()}", seed, _finished, cache_root)


def fresh_copy(template: Path, dest: Path) -> Path:
    """Copy a seeded environment to `dest` (absent or empty) for one test or task to modify."""
    return fresh_copy_of(template, dest, _finished, "Trac")


def _tracd_command() -> list[str]:
    tracd = Path(sys.executable).with_name("tracd")
    if tracd.is_file() and os.access(tracd, os.X_OK):
        return [str(tracd)]
    return [sys.executable, "-m", "trac.web.standalone"]


def start(env_dir: Path, *, port: int | None = None, log_path: Path | None = None) -> AppServer:
    """Serve `env_dir` with tracd on 127.0.0.1 (a free port unless given) until `stop()`.

    The server runs in its own process group; `extra["db"]` is the environment's SQLite file.
    """
    env_dir = Path(env_dir).resolve()
    if not db_path(env_dir).is_file():
        raise AppError(f"{env_dir} is not a seeded Trac environment (no db/trac.db)")
    port = free_port() if port is None else port
    cmd = [*_tracd_command(), "-s", "-p", str(port), "-b", "127.0.0.1", str(env_dir)]
    server = AppServer.start("trac", cmd, port=port, log_path=log_path, timeout_s=60.0)
    server.extra["db"] = db_path(env_dir)
    server.extra["env_dir"] = env_dir
    return server
