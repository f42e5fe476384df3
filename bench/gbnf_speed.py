"""How fast llama.cpp samples under the DSL grammar, as a fraction of unconstrained sampling.

    python bench/gbnf_speed.py                      # 3 rounds of 80 tokens
    python bench/gbnf_speed.py --rounds 5 --tokens 150 --grammar mine=/tmp/mine.gbnf

Starts two local servers (SmolLM2-135M, one request at a time, 1 thread each by default: llama.cpp's
threads spin on a barrier, so 2 threads on a machine with other work are much noisier): one with
llama-cpp-python's stock sampler, which checks the whole vocabulary against the grammar at every
token, and one sampling then checking (agentjit.localllm.sample_then_check, the default). Each is
asked for a shop plan with the planner's own prompt, once per variant per round: `old` is
`dsl_gbnf()` as first committed (3c0ab86, read with git), `new` is today's `dsl_gbnf()`, each on
the stock server (`/stock`) and on the default one (`/check`); `none` has no grammar. Other jobs
share the machine, so variants run interleaved and each round's constrained tokens/s is divided
by the same round's unconstrained tokens/s; the table shows medians, by wall time (what a planner
waits for) and by the server's CPU time (less disturbed by other jobs). Prompts are evaluated
once, by a warm-up request per server: llama.cpp reuses them, so the timings are sampling.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

from openai import OpenAI

from agentjit.frontend.gbnf import dsl_gbnf
from agentjit.localllm import LocalLlmServer
from agentjit.planner.prompt import plan_messages, site_examples
from agentjit.tools import load_site

OLD_COMMIT = "3c0ab86"
TASK = "Buy the cheapest in-stock product in the Cables category"
ROOT = Path(__file__).resolve().parent.parent


def old_gbnf() -> str:
    """The grammar of the first committed generator, which sampled about 4x slower."""
    source = subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:agentjit/frontend/gbnf.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType("agentjit.frontend._gbnf_old")
    module.__file__ = str(ROOT / "agentjit" / "frontend" / "gbnf.py")  # finds grammar.lark
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module.dsl_gbnf(max_statements=20)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def speed(server: LocalLlmServer, client: OpenAI, messages: list, grammar: str | None, n: int):
    """Tokens per second of wall time and of the server's CPU time, for one request."""
    extra = {"grammar": grammar} if grammar else {}
    started, cpu = time.perf_counter(), cpu_seconds(server.pid)
    reply = client.chat.completions.create(
        model=server.model,
        messages=messages,
        max_tokens=n,
        temperature=0.8,
        seed=1,
        extra_body=extra,
    )
    tokens = reply.usage.completion_tokens  # type: ignore[union-attr]
    wall, cpu = time.perf_counter() - started, cpu_seconds(server.pid) - cpu
    return tokens / wall, tokens / max(cpu, 0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=80)
    parser.add_argument("--grammar", action="append", default=[], metavar="NAME=FILE")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads per server")
    args = parser.parse_args()
    grammars: dict[str, str] = {"old": old_gbnf(), "new": dsl_gbnf()}
    for item in args.grammar:
        name, _, path = item.partition("=")
        grammars[name] = Path(path).read_text()
    site = load_site("shop")
    messages = plan_messages(site, TASK, site_examples(site))
    with (
        LocalLlmServer.start(threads=args.threads, stock_sampler=True) as stock,
        LocalLlmServer.start(threads=args.threads) as checking,
    ):
        variants = [
            (f"{name}/{label}", grammar, server)
            for name, grammar in grammars.items()
            for label, server in (("stock", stock), ("check", checking))
        ]
        variants.append(("none", None, checking))
        runs = measure(variants, messages, args.rounds, args.tokens)
    report(runs)


Variant = tuple[str, str | None, LocalLlmServer]


def measure(
    variants: list[Variant], messages: list, rounds: int, tokens: int
) -> dict[str, list[tuple[float, float]]]:
    """(tokens/s of wall time, tokens/s of CPU time) per variant and round, interleaved."""
    clients = {}
    for _, _, server in variants:
        if server.pid not in clients:
            clients[server.pid] = OpenAI(base_url=server.base_url, api_key="sk-local", timeout=3600)
            speed(server, clients[server.pid], messages, None, 4)  # evaluates the prompt
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in variants}
    for r in range(rounds):
        for name, grammar, server in variants:
            runs[name].append(speed(server, clients[server.pid], messages, grammar, tokens))
            wall, cpu = runs[name][-1]
            print(
                f"round {r + 1}: {name:10s} {wall:6.2f} tok/s, {cpu:6.2f} tok/cpu-s",
                file=sys.stderr,
            )
    return runs


def report(runs: dict[str, list[tuple[float, float]]]) -> None:
    print(
        f"{'grammar':10s} {'tok/s':>6s} {'x none':>7s} {'x none (cpu)':>13s}  wall ratio per round"
    )
    for name, values in runs.items():
        walls = [w / n[0] for (w, _), n in zip(values, runs["none"], strict=True)]
        cpus = [c / n[1] for (_, c), n in zip(values, runs["none"], strict=True)]
        median_speed = statistics.median(w for w, _ in values)
        shown = " ".join(f"{x:.2f}" for x in walls)
        print(
            f"{name:10s} {median_speed:6.2f} {statistics.median(walls):7.2f}"
            f" {statistics.median(cpus):13.2f}  {shown}"
        )


if __name__ == "__main__":
    main()
