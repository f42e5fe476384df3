"""Fixtures for tests that talk to a real local LLM: one llama_cpp.server serving SmolLM2-135M per
test module, skipped (with the command that fixes it) when llama-cpp-python or the model is not
installed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentjit.localllm import LocalLlmError, LocalLlmServer
from agentjit.localllm.errors import INSTALL_HINT
from agentjit.localllm.models import DEFAULT_MODEL, MODELS
from agentjit.localllm.server import SERVER_MODULE, require_llama_server


def llm_unavailable_reason() -> str | None:
    """Why a local LLM server cannot start here, or None if it can."""
    try:
        require_llama_server()
    except LocalLlmError as e:
        return str(e)
    if MODELS[DEFAULT_MODEL].locate() is None:
        return f"the {DEFAULT_MODEL} model is not installed; run `{INSTALL_HINT}`"
    return None


def require_local_llm() -> None:
    reason = llm_unavailable_reason()
    if reason:
        pytest.skip(reason)


def llama_server_pids() -> set[int]:
    """The pids of every running local LLM server process on this machine (from /proc)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if SERVER_MODULE.encode() in cmdline and state != "Z":
            pids.add(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def local_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLlmServer]:
    """A running SmolLM2 server on a free 127.0.0.1 port, stopped after the module."""
    require_local_llm()
    log = tmp_path_factory.mktemp("llm") / "server.log"
    # One thread: llama.cpp's threads spin on a barrier, so with 2 threads on 2 busy cores (a
    # browser test beside it) one completion took 11 to 19 s instead of 0.4; 1 thread: 1.7 to 2.7.
    with LocalLlmServer.start(DEFAULT_MODEL, threads=1, log_path=log) as server:
        yield server
