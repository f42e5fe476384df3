"""Starting and stopping a real web application's server for tests, benchmarks and the demo.

    with AppServer.start("oscar", ["python", "manage.py", "runserver", ...], port=port) as app:
        ...  # app.url serves until the block ends

Servers bind 127.0.0.1 only, run in their own process group (so a server that forks workers is
stopped whole), and every wait is bounded. `run_checked` runs a setup command (migrate, seed) and
turns a failure into an `AppError` that carries the command's output tail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from agentjit.processes import stop_group

LOOPBACK = "127.0.0.1"


class AppError(RuntimeError):
    """A web application could not be installed, seeded, started or stopped."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def run_checked(
    cmd: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 300.0,
    stdin: str | None = None,
) -> str:
    """Run a setup command to completion; its stdout, or an AppError with the output's tail."""
    full_env = {**os.environ, **(env or {})}
    try:
        done = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=full_env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as e:
        raise AppError(f"{' '.join(cmd)}: no result after {timeout_s:.0f} s") from e
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-2000:]
        raise AppError(f"{' '.join(cmd)} exited with {done.returncode}:\n{tail}")
    return done.stdout


def wait_for_http(
    url: str, timeout_s: float = 30.0, process: subprocess.Popen | None = None
) -> None:
    """Poll `url` until it answers (any HTTP status), the process dies, or time runs out."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AppError(f"the server exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2.0):
                return
        except urllib.error.HTTPError:
            return  # it answered, if not with 200
        except OSError as e:
            last = e
            time.sleep(0.1)
    raise AppError(f"{url} did not answer within {timeout_s:.0f} s (last error: {last})")


@dataclass
class AppServer:
    """A running web application: its name, base URL and server process (a context manager)."""

    name: str
    url: str
    process: subprocess.Popen
    log_path: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)
    """Per-application facts for checkers (the database path, say)."""

    @classmethod
    def start(
        cls,
        name: str,
        cmd: Sequence[str],
        *,
        port: int,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        ready_path: str = "/",
        timeout_s: float = 60.0,
    ) -> AppServer:
        """Start `cmd` (which must serve on 127.0.0.1:`port`) and wait until it answers."""
        log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            process = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if log_path:
                log.close()  # type: ignore[union-attr]
        server = cls(name, f"http://{LOOPBACK}:{port}", process, log_path)
        try:
            wait_for_http(server.url + ready_path, timeout_s, process)
        except BaseException as e:
            server.stop()
            if isinstance(e, AppError) and log_path and log_path.exists():
                tail = log_path.read_text(errors="replace")[-2000:]
                raise AppError(f"{name}: {e}\n{tail}") from e
            raise
        return server

    def stop(self) -> None:
        stop_group(self.process)

    def __enter__(self) -> AppServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
