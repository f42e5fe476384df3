"""Seeded application data, made once and copied per use.

Seeding a web application is slow (Oscar's migrations take half a minute), copying its data
directory takes milliseconds. `cached_template` seeds into a scratch directory, holding a lock
on the cache directory, and renames it into place, so concurrent callers seed once and an
interrupted seed never passes for a finished one. The template's name carries a digest of
everything the seed depends on, so a change to the seed data or an upgraded package seeds
anew. `fresh_copy_of` gives each test or task its own copy to change.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

from agentjit.webapps.server import AppError

Check = Callable[[Path], bool]
"""Whether a directory holds a finished seed."""


def default_cache_root() -> Path:
    """`~/.cache/agentjit/webapps` (or under $XDG_CACHE_HOME)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agentjit" / "webapps"


def dist_version(distribution: str) -> str:
    """The installed version of a distribution the seed depends on."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError as e:
        raise AppError(f"{distribution} is not installed for {sys.executable}") from e


def cached_template(
    name: str, seed: Callable[[Path], object], finished: Check, cache_root: Path | None = None
) -> Path:
    """`cache_root/name`, seeded by `seed(directory)` unless a finished seed is already there."""
    root = Path(cache_root) if cache_root is not None else default_cache_root()
    target = root / name
    if finished(target):
        return target
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root, timeout_s=900):
        if finished(target):
            return target
        if target.exists():  # left over from an interrupted seed
            shutil.rmtree(target)
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
        try:
            seed(scratch / "data")
            os.rename(scratch / "data", target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def fresh_copy_of(template: Path, dest: Path, finished: Check, what: str) -> Path:
    """Copy a finished seed to `dest` (absent or empty) and return `dest`."""
    template, dest = Path(template), Path(dest)
    if not finished(template):
        raise AppError(f"{template} is not a seeded {what} environment: not a finished seed")
    if dest.exists() and any(dest.iterdir()):
        raise AppError(
            f"cannot copy the {what} template into {dest}: it is not empty;"
            " expected an empty directory"
        )
    shutil.copytree(template, dest, dirs_exist_ok=True)
    return dest


@contextlib.contextmanager
def _locked(directory: Path, timeout_s: float) -> Iterator[None]:
    """Hold an exclusive lock on the cache directory itself (no lock file left behind)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AppError(f"{directory} stayed locked for {timeout_s:.0f} s") from None
                time.sleep(0.5)
        yield
    finally:
        os.close(fd)  # closing releases the lock
