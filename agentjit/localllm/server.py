"""A llama_cpp.server process serving one local model behind an OpenAI-compatible API.

The process runs `agentjit.localllm.serve`: llama_cpp.server with sample-then-check grammar
sampling.

    with LocalLlmServer.start("smollm2") as llm:
        client = AsyncOpenAI(base_url=llm.base_url, api_key="sk-local")
        ...  # model=llm.model

The server binds 127.0.0.1 only, runs in its own process group, and is started, waited for
(`GET /v1/models`, bounded) and stopped with the web apps' `AppServer` helpers.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from agentjit.localllm.errors import INSTALL_HINT, LocalLlmError
from agentjit.localllm.models import DEFAULT_MODEL, LocalModel, resolve
from agentjit.localllm.serve import STOCK_FLAG
from agentjit.localllm.wheels import LLAMA_DIST, cpu_count
from agentjit.webapps.server import LOOPBACK, AppError, AppServer, free_port

N_CTX = 4096
START_TIMEOUT_S = 60.0


SERVER_MODULE = "agentjit.localllm.serve"
"""llama_cpp.server with sample-then-check grammar sampling (localllm.sample_then_check)."""


def server_command(
    model: LocalModel,
    port: int,
    threads: int,
    n_ctx: int = N_CTX,
    *,
    stock_sampler: bool = False,
) -> list[str]:
    # --logits_all False: the default True keeps logits for every prompt token (5x the memory,
    # half the prompt speed) and nothing here reads them.
    cmd = [sys.executable, "-m", SERVER_MODULE, "--model", str(model.path)]
    cmd += ["--model_alias", model.spec.alias, "--logits_all", "False", "--n_ctx", str(n_ctx)]
    cmd += ["--n_threads", str(threads), "--host", LOOPBACK, "--port", str(port)]
    # The default interrupts a streaming answer when the next request arrives: k concurrent
    # candidates would come back empty. Queued requests must each run to the end.
    cmd += ["--verbose", "False", "--interrupt_requests", "False"]
    if model.spec.chat_format:
        cmd += ["--chat_format", model.spec.chat_format]
    if stock_sampler:
        cmd.append(STOCK_FLAG)
    return cmd


def require_llama_server() -> None:
    """Raise `LocalLlmError` unless llama-cpp-python and its server extra are installed."""
    from agentjit.localllm.install import installed_version, missing_requirements

    if installed_version(LLAMA_DIST) is None:
        raise LocalLlmError(
            f"{LLAMA_DIST} is not installed in {sys.executable}; run `{INSTALL_HINT}`"
        )
    missing = missing_requirements(LLAMA_DIST, "server")
    if missing:
        raise LocalLlmError(
            f"the llama_cpp server's dependencies are missing ({', '.join(missing)}); "
            f"run `{INSTALL_HINT}`"
        )


@dataclass
class LocalLlmServer:
    """A running llama_cpp.server (a context manager): `base_url` ends in /v1, `model` is the id."""

    model: str
    base_url: str
    app: AppServer
    log_path: Path
    own_log: bool
    """The log is a temporary file, removed on stop."""

    @classmethod
    def start(
        cls,
        model: str = DEFAULT_MODEL,
        *,
        port: int | None = None,
        threads: int | None = None,
        log_path: Path | None = None,
        timeout_s: float = START_TIMEOUT_S,
        stock_sampler: bool = False,
    ) -> LocalLlmServer:
        """Start serving `model` and wait until it answers; raises `LocalLlmError`.

        `stock_sampler` keeps llama-cpp-python's sampling, which checks the whole vocabulary
        against the grammar at every token (slower; for comparisons).
        """
        require_llama_server()
        local = resolve(model)
        port = port or free_port()
        own_log = log_path is None
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="agentjit-llm-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        cmd = server_command(local, port, threads or cpu_count(), stock_sampler=stock_sampler)
        try:
            app = AppServer.start(
                local.spec.alias,
                cmd,
                port=port,
                log_path=log_path,
                ready_path="/v1/models",
                timeout_s=timeout_s,
            )
        except AppError as e:
            if own_log:
                log_path.unlink(missing_ok=True)
            raise LocalLlmError(f"the local LLM server did not start: {e}") from e
        return cls(local.spec.alias, app.url + "/v1", app, log_path, own_log)

    @property
    def pid(self) -> int:
        return self.app.process.pid

    def alive(self) -> bool:
        return self.app.process.poll() is None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        self.app.stop()
        if self.own_log:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> LocalLlmServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
