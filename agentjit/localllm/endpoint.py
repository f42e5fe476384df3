"""Finding a running local endpoint: the state file `agentjit llm serve` writes, and a probe.

`agentjit llm serve` records its server in `~/.cache/agentjit/llm/server.json`; the CLI calls
`ensure_local_endpoint()` when no `OPENAI_BASE_URL` is set, and uses the server only if the
record's process is alive and answers `GET /v1/models` with the recorded model.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from agentjit.localllm.errors import LocalLlmError

LOCAL_API_KEY = "sk-local"
"""llama_cpp.server checks no key, but the openai client insists on one."""


@dataclass(frozen=True)
class LocalEndpoint:
    base_url: str
    """Ends in /v1, as `OPENAI_BASE_URL` does."""
    model: str
    pid: int

    def env_lines(self) -> str:
        return (
            f"export OPENAI_BASE_URL={self.base_url} OPENAI_API_KEY={LOCAL_API_KEY} "
            f"AGENTJIT_LLM_MODEL={self.model} AGENTJIT_LLM_GRAMMAR=1 AGENTJIT_LLM_CONCURRENCY=1"
        )


def state_path() -> Path:
    return Path.home() / ".cache" / "agentjit" / "llm" / "server.json"


def record(endpoint: LocalEndpoint, path: Path | None = None) -> None:
    """Write the state file (atomically: readers never see half of it)."""
    path = path or state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(asdict(endpoint)))
    os.replace(partial, path)


def read(path: Path | None = None) -> LocalEndpoint | None:
    try:
        data = json.loads((path or state_path()).read_text())
        return LocalEndpoint(str(data["base_url"]), str(data["model"]), int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear(pid: int, path: Path | None = None) -> None:
    """Remove the state file if it still names `pid` (a newer server may have replaced it)."""
    path = path or state_path()
    found = read(path)
    if found is not None and found.pid == pid:
        path.unlink(missing_ok=True)


def probe(base_url: str, timeout_s: float = 2.0) -> list[str]:
    """The model ids served at `base_url`; raises `LocalLlmError` if nothing answers in time."""
    url = base_url.rstrip("/") + "/models"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            data = json.loads(response.read())
    except (OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise LocalLlmError(f"no LLM server answers at {url}: {reason}") from e
    try:
        return [str(m["id"]) for m in data["data"]]
    except (KeyError, TypeError) as e:
        raise LocalLlmError(f"{url} answered, but not with an OpenAI model list") from e


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_local_endpoint(path: Path | None = None, timeout_s: float = 2.0) -> LocalEndpoint | None:
    """The endpoint of a running `agentjit llm serve`, or None if there is none that answers.

    A record whose process is gone is removed; a live one that does not answer (still loading,
    say) is left alone.
    """
    found = read(path)
    if found is None:
        return None
    if not pid_alive(found.pid):
        clear(found.pid, path)
        return None
    with contextlib.suppress(LocalLlmError):
        if found.model in probe(found.base_url, timeout_s):
            return found
    return None
