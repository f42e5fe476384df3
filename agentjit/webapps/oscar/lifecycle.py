"""Seeding, caching, copying and starting the bench shop (django-oscar on 127.0.0.1).

A seeded data directory holds everything the shop changes: `db.sqlite3`, `whoosh_index/`,
`media/` and the `catalogue.csv` it was seeded from. The Django project itself ships with this
package (`project/bench_shop`) and is found through PYTHONPATH, so the server process never
imports agentjit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from agentjit.webapps.oscar import catalogue
from agentjit.webapps.server import AppError, AppServer, free_port, run_checked
from agentjit.webapps.templates import cached_template, dist_version, fresh_copy_of

PROJECT_DIR = Path(__file__).parent / "project"
SETTINGS_MODULE = "bench_shop.settings"
DB_NAME = "db.sqlite3"
MARKER = "seed.json"
"""Written last by `seed`; a data directory without it is not a finished seed."""
_DISTRIBUTIONS = ("django-oscar", "Django", "django-haystack", "Whoosh", "pycountry")


def django_env(data_dir: Path) -> dict[str, str]:
    """The environment a Django command of the bench shop runs with, on `data_dir`."""
    paths = [str(PROJECT_DIR), os.environ.get("PYTHONPATH", "")]
    return {
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "SHOP_DATA_DIR": str(Path(data_dir).resolve()),
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "PYTHONUNBUFFERED": "1",
    }


def seed(data_dir: Path, *, timeout_s: float = 600) -> Path:
    """Seed `data_dir` (created if missing, must hold no database yet) and return it.

    Migrates a new SQLite database, loads the shipping countries, imports the deterministic
    catalogue, builds the Whoosh index and creates the users admin/admin-pass (superuser) and
    alice@example.com/alice-pass, then renders a listing and a product page once so the
    placeholder thumbnails exist. Takes about 30 s, mostly `migrate`; callers cache the result
    (see `seeded_template`).
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if (data_dir / DB_NAME).exists():
        raise AppError(f"{data_dir} already holds {DB_NAME}; seed expects an empty directory")
    csv_path = data_dir / "catalogue.csv"
    csv_path.write_text(catalogue.csv_text(), encoding="utf-8")
    started = time.monotonic()
    out = run_checked(
        [sys.executable, "-m", "bench_shop.seed", str(csv_path)],
        cwd=data_dir,
        env=django_env(data_dir),
        timeout_s=timeout_s,
    )
    steps = dict(_step_times(out))
    warm_started = time.monotonic()
    _warm_up(data_dir)
    steps["warm_up"] = round(time.monotonic() - warm_started, 2)
    seconds = round(time.monotonic() - started, 2)
    facts = {"inputs": seed_inputs_hash(), "seconds": seconds, "steps": steps}
    (data_dir / MARKER).write_text(json.dumps(facts, indent=2), encoding="utf-8")
    return data_dir


def _warm_up(data_dir: Path) -> None:
    # The first listing and product page render the placeholder thumbnails into media/ and the
    # thumbnail store; doing it here keeps that one-off cost out of every copy's first visit.
    with start(data_dir) as server:
        with urllib.request.urlopen(server.url + "/catalogue/", timeout=60) as response:
            html = response.read().decode()
        product = re.search(r'<h3[^>]*>\s*<a href="(/catalogue/[^"]+/)"', html)
        if product is None:
            raise AppError(f"{server.url}/catalogue/ lists no products")
        with urllib.request.urlopen(server.url + product.group(1), timeout=60) as response:
            response.read()


def _step_times(out: str) -> Iterator[tuple[str, float]]:
    for line in out.splitlines():
        name, _, seconds = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            yield name, float(seconds)


def seed_inputs_hash() -> str:
    """A digest of everything a seed depends on: the catalogue, the project files, versions."""
    digest = hashlib.sha256(catalogue.csv_text().encode())
    project = PROJECT_DIR / "bench_shop"
    for path in sorted(p for p in project.rglob("*") if p.is_file() and p.suffix != ".pyc"):
        digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes())
    for name in _DISTRIBUTIONS:
        digest.update(f"{name}={dist_version(name)}".encode())
    return digest.hexdigest()[:16]


def _finished(data_dir: Path) -> bool:
    return (data_dir / MARKER).exists()


def seeded_template(cache_root: Path | None = None) -> Path:
    """A seeded data directory to copy from, seeded once per set of seed inputs and cached
    (`agentjit.webapps.templates`)."""
    return cached_template(f"oscar-{seed_inputs_hash()}", seed, _finished, cache_root)


def fresh_copy(template: Path, dest: Path) -> Path:
    """Copy a seeded data directory to `dest` (which must not exist or be empty); return `dest`."""
    return fresh_copy_of(template, dest, _finished, "shop")


def start(data_dir: Path, *, port: int | None = None, log_path: Path | None = None) -> AppServer:
    """Serve the shop on `data_dir` at 127.0.0.1 (a free port if None); stop it with `.stop()`.

    Runs Django's development server without the reloader (one process, in its own process
    group) and with `--insecure` so it serves the static files. `extra["db"]` is the SQLite
    file for the checkers in this package.
    """
    data_dir = Path(data_dir).resolve()
    db = data_dir / DB_NAME
    if not db.exists():
        raise AppError(f"{data_dir} holds no {DB_NAME}; seed it or copy a seeded template first")
    port = port or free_port()
    cmd = [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}"]
    cmd += ["--noreload", "--insecure", "--skip-checks"]
    server = AppServer.start(
        "oscar", cmd, port=port, cwd=data_dir, env=django_env(data_dir), log_path=log_path
    )
    server.extra.update(db=db, data_dir=data_dir)
    return server
