"""`agentjit llm serve|install|status`: the local default LLM endpoint.

agentjit llm install [--avx512]    llama-cpp-python[server] + the SmolLM2 model, once
agentjit llm serve [--model M]     serve it on 127.0.0.1 until Ctrl-C
agentjit llm status                what is installed, cached and running
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from agentjit.localllm import endpoint, wheels
from agentjit.localllm.errors import LocalLlmError
from agentjit.localllm.models import DEFAULT_MODEL, MODELS

if TYPE_CHECKING:
    from agentjit.localllm.server import LocalLlmServer


def add_llm_parser(sub: Any) -> None:
    llm = sub.add_parser("llm", help="the local LLM endpoint (llama.cpp on 127.0.0.1)")
    commands = llm.add_subparsers(dest="llm_command", required=True)

    serve = commands.add_parser("serve", help="serve a local model until Ctrl-C")
    serve.add_argument("--model", choices=sorted(MODELS), default=DEFAULT_MODEL)
    serve.add_argument("--port", type=int, default=None, help="default: a free port")
    serve.add_argument("--threads", type=int, default=None, help="default: all cores")
    serve.set_defaults(func=cmd_serve, json=False)

    install = commands.add_parser("install", help="install llama-cpp-python and the model")
    install.add_argument("--avx512", action="store_true", help="build for AVX-512 CPUs (faster)")
    install.add_argument("--verbose", action="store_true", help="show pip's and the build's output")
    install.set_defaults(func=cmd_install, json=False)

    status = commands.add_parser("status", help="what is installed, cached and running")
    status.set_defaults(func=cmd_status, json=False)


def cmd_serve(args: argparse.Namespace) -> int:
    from agentjit.localllm.server import LocalLlmServer

    print(f"starting the local LLM server ({args.model}) ...", flush=True)
    # SIGTERM stops the server too (the default would orphan it in its own process group), and
    # so does SIGINT even where it was inherited as ignored (a job a script started with `&`).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        server = LocalLlmServer.start(args.model, port=args.port, threads=args.threads)
    except LocalLlmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    with server:
        found = endpoint.LocalEndpoint(server.base_url, server.model, server.pid)
        endpoint.record(found)
        try:
            print(f"{server.model} serves {server.base_url}  (Ctrl-C stops it)")
            print(f"  {found.env_lines()}", flush=True)
            return _wait(server)
        except KeyboardInterrupt:  # wherever it lands once the server is up: a clean stop
            return 0
        finally:
            endpoint.clear(server.pid)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait(server: LocalLlmServer) -> int:
    while server.alive():
        time.sleep(0.5)
    print(f"error: the server exited\n{server.log_tail()}", file=sys.stderr)
    return 1


def cmd_install(args: argparse.Namespace) -> int:
    from agentjit.localllm.install import install, print_report

    try:
        report = install(avx512=args.avx512, quiet=not args.verbose)
    except LocalLlmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print_report(report)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from agentjit.localllm.install import installed_variant, installed_version

    version = installed_version(wheels.LLAMA_DIST)
    variant = installed_variant() or "variant unknown"
    print(f"{wheels.LLAMA_DIST}: " + (f"{version} ({variant})" if version else "not installed"))
    for name in wheels.VARIANT_FLAGS:
        cached = wheels.cached_wheel(wheels.cache_dir(name))
        print(f"cached {name} wheel: {cached or 'none'}")
    for name, spec in MODELS.items():
        state = "installed" if spec.installed() else f"not installed ({spec.install_hint})"
        print(f"model {name}: {state}; {spec.note}")
    found = endpoint.ensure_local_endpoint()
    if found is None:
        print("server: none running; start one with `agentjit llm serve`")
    else:
        print(f"server: {found.model} at {found.base_url} (pid {found.pid})")
        print(f"  {found.env_lines()}")
    return 0
