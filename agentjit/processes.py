"""Stopping a child started in its own session, with everything it forked.

Browsers, drivers and web-application servers all start with `start_new_session=True`, so their
process group id is their pid; stopping the group reaches renderers and forked workers that would
otherwise outlive the leader.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_group(process: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """SIGTERM the group, wait (bounded), then SIGKILL whatever is left of it; reap the leader."""
    if process.poll() is None:
        signal_group(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout_s)
    # Forked workers may outlive the leader; the group id still names them.
    signal_group(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(timeout=timeout_s)


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
