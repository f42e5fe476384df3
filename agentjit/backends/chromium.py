"""Finding and launching Debian's Chromium headless, in its own process group.

Both backends use these flags (they work as root on this kind of machine: no sandbox, no GPU, no
background traffic). The binary and driver paths are explicit, so Selenium Manager never runs;
`AGENTJIT_CHROMIUM` and `AGENTJIT_CHROMEDRIVER` override them. `launch_for_cdp` starts the browser
with a DevTools port chosen by the browser itself and reads it back from `DevToolsActivePort`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from agentjit.processes import stop_group
from agentjit.tools.page import PageTimeout

HEADLESS_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    # Tabs the runtime drives in parallel are background tabs: do not throttle them.
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-renderer-backgrounding",
    "--window-size=1280,1000",
)

_BINARIES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "chromium", "chromium-browser")
_DRIVERS = ("/usr/bin/chromedriver", "chromedriver")


class BrowserNotFound(RuntimeError):
    """No Chromium (or chromedriver) binary was found."""


def _first_existing(env_var: str, candidates: tuple[str, ...], what: str) -> str:
    override = os.environ.get(env_var)
    if override:
        return override
    for candidate in candidates:
        found = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if found and os.access(found, os.X_OK):
            return found
    tried = ", ".join(candidates)
    raise BrowserNotFound(f"no {what} found (tried {tried}); install it or set {env_var}")


def chromium_binary() -> str:
    """The Chromium executable; the real binary rather than Debian's shell wrapper if present."""
    return _first_existing("AGENTJIT_CHROMIUM", _BINARIES, "Chromium")


def chromedriver_binary() -> str:
    return _first_existing("AGENTJIT_CHROMEDRIVER", _DRIVERS, "chromedriver")


@dataclass
class ChromiumProcess:
    """A launched browser: its process (group leader), DevTools URL and throwaway profile."""

    process: subprocess.Popen
    ws_url: str
    profile: Path

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the whole process group (renderers, GPU and crashpad helpers included)."""
        stop_group(self.process, timeout_s)
        shutil.rmtree(self.profile, ignore_errors=True)


def launch_for_cdp(
    *, headless: bool = True, extra_flags: tuple[str, ...] = (), timeout_s: float = 20.0
) -> ChromiumProcess:
    """Start Chromium with `--remote-debugging-port=0` and return its browser websocket URL."""
    profile = Path(tempfile.mkdtemp(prefix="agentjit-chromium-"))
    flags = [f for f in HEADLESS_FLAGS if headless or not f.startswith("--headless")]
    cmd = [
        chromium_binary(),
        *flags,
        *extra_flags,
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "about:blank",
    ]
    process = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    launched = ChromiumProcess(process, "", profile)
    try:
        launched.ws_url = _read_devtools_url(profile, process, timeout_s)
    except BaseException:
        launched.stop()
        raise
    return launched


def _read_devtools_url(profile: Path, process: subprocess.Popen, timeout_s: float) -> str:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrowserNotFound(f"Chromium exited with {process.returncode} while starting")
        lines = marker.read_text().splitlines() if marker.exists() else []
        if len(lines) >= 2:
            return f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}"
        time.sleep(0.02)
    raise PageTimeout(f"Chromium did not open its DevTools port within {timeout_s:.0f} s")


def running_chromium_pids() -> set[int]:
    """PIDs of live (not zombie) Chromium and chromedriver processes: for leak checks."""
    pids: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        state = stat[stat.rfind(")") + 2 :].split(" ", 1)[0]
        if state != "Z" and ("chrom" in name or "chromedriver" in name):
            pids.add(int(entry.name))
    return pids
