"""Is `check-contracts` sound and precise on the mutation corpus? The static checker against the
dynamic oracle.

    python bench/contract_mutations.py [--seeds 20] [--jobs 2] [--limit N]

For every mutant of `mutations.generate()` (and every valid original):

- compile it; a compile error counts as *rejected by the frontend* (per kind);
- STATIC: run the `check-contracts` pass; a `PassError` means *statically flagged*;
- DYNAMIC: run `main` under the reference interpreter with `SiteModel` as the tool handler, once
  per seed 0..N-1; a `ContractViolation` on any seed means *dynamically violating* (other
  failures, such as an assert on synthetic data, just end that run).

The table reports per kind: how many dynamically violating mutants the checker caught (the goal
is 100%: every miss is unsoundness, and is listed), how many it flagged without a dynamic
violation being found (conservative rejections, or violations the seeds did not reach), and
false alarms on the originals (the goal is 0).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutations import KINDS, Mutant, generate, site_programs

from agentjit import compile_text
from agentjit.ir import CompilerError, ModuleOp, PassError, ToolCallOp
from agentjit.ir.interpreter import Interpreter
from agentjit.passes import PassManager
from agentjit.tools import load_site
from agentjit.tools.model import ContractViolation, SiteModel

DEFAULT_SEEDS = 20
ARG_HINTS = {"first": "title", "second": "title", "query": "title", "occasion": "title"}
"""Program parameters whose values should look like the site's (so lookups sometimes hit)."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one program: None where nothing was found."""

    mutant: Mutant
    frontend: str | None = None
    static: str | None = None
    dynamic: str | None = None
    unrun: int = 0
    """Tool calls of `main` that no seed executed (the oracle saw nothing there)."""

    @property
    def unsound(self) -> bool:
        return self.dynamic is not None and self.static is None


# ---- the two checks --------------------------------------------------------------------------


def static_check(module: ModuleOp) -> str | None:
    """The first `check-contracts` error, or None when the program passes."""
    try:
        PassManager.from_pipeline("check-contracts").run(module)
    except PassError as exc:
        first = exc.diagnostics[0]
        return f"line {first.loc.line}: {first.message}"
    return None


def program_args(module: ModuleOp, model: SiteModel, seed: int) -> dict[str, Any]:
    """Arguments for `main`: its defaults on even seeds, synthetic values for every parameter
    on odd seeds (required parameters always get synthetic values)."""
    func = module.function("main")
    assert func is not None
    defaults = func.defaults or {}
    args: dict[str, Any] = {}
    for i, name in enumerate(func.arg_names):
        if name in defaults and seed % 2 == 0:
            continue
        hint = ARG_HINTS.get(name, name)
        args[name] = model.value(func.body.block.args[i].type, hint, ("arg", name))
    return args


class CoveringInterpreter(Interpreter):
    """The reference interpreter, also recording which `tool.call` ops ran."""

    def __init__(self, tool_handler: Any, ran: set[int]) -> None:
        super().__init__(tool_handler)
        self.ran = ran

    def call_tool(self, op: ToolCallOp, args: list[Any], env: dict[Any, Any]) -> list[Any]:
        self.ran.add(id(op))
        return super().call_tool(op, args, env)

    _EFFECTFUL: ClassVar = {**Interpreter._EFFECTFUL, ToolCallOp: call_tool}


def dynamic_check(module: ModuleOp, seeds: int) -> tuple[str | None, int]:
    """The first `ContractViolation` over seeds 0..seeds-1 (or None), and how many tool calls
    of `main` no seed executed."""
    sites = [s for s in (load_site(u) for u in module.uses) if s is not None]
    ran: set[int] = set()
    for seed in range(seeds):
        model = SiteModel(sites, seed=seed)
        try:
            interp = CoveringInterpreter(model.handle, ran)
            interp.run(module, "main", program_args(module, model, seed))
        except ContractViolation as exc:
            return f"seed {seed}: {exc}", 0
        except Exception:  # an assert on synthetic data, an empty list: this run just ends
            continue
    main = module.function("main")
    calls = [op for op in main.walk() if isinstance(op, ToolCallOp)] if main else []
    return None, sum(1 for op in calls if id(op) not in ran)


def classify(mutant: Mutant, seeds: int = DEFAULT_SEEDS) -> Outcome:
    """Compile, check statically, run dynamically."""
    try:
        module = compile_text(mutant.source, f"{mutant.program}[{mutant.kind}]").module
    except CompilerError as exc:
        return Outcome(mutant, frontend=exc.diagnostics[0].message)
    dynamic, unrun = dynamic_check(module, seeds)
    return Outcome(mutant, static=static_check(module), dynamic=dynamic, unrun=unrun)


def originals() -> list[Mutant]:
    """The valid examples themselves, as kind `original`."""
    return [Mutant(p.name, "original", "unchanged", p.source) for p in site_programs()]


def _classify_star(job: tuple[Mutant, int]) -> Outcome:
    return classify(*job)


def evaluate(mutants: Iterable[Mutant], seeds: int, jobs: int) -> list[Outcome]:
    work = [(m, seeds) for m in mutants]
    if jobs <= 1:
        return [_classify_star(w) for w in work]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        return list(pool.imap(_classify_star, work, chunksize=8))


# ---- the report -----------------------------------------------------------------------------


HEADER = (
    "kind",
    "mutants",
    "frontend-rejected",
    "dyn. violating",
    "caught statically",
    "static only",
    "neither",
)


def _row(kind: str, outs: list[Outcome]) -> tuple[str, ...]:
    compiled = [o for o in outs if o.frontend is None]
    violating = [o for o in compiled if o.dynamic is not None]
    caught = [o for o in violating if o.static is not None]
    conservative = [o for o in compiled if o.dynamic is None and o.static is not None]
    neither = [o for o in compiled if o.dynamic is None and o.static is None]
    share = f"{100 * len(caught) / len(violating):.1f}%" if violating else "-"
    return (
        kind,
        str(len(outs)),
        str(len(outs) - len(compiled)),
        str(len(violating)),
        f"{len(caught)} ({share})",
        str(len(conservative)),
        str(len(neither)),
    )


def table(outcomes: list[Outcome]) -> str:
    kinds = [k for k in KINDS if any(o.mutant.kind == k for o in outcomes)]
    rows = [HEADER, *(_row(k, [o for o in outcomes if o.mutant.kind == k]) for k in kinds)]
    rows.append(_row("total", outcomes))
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]

    def fmt(r: tuple[str, ...]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(rows[0]), rule, *map(fmt, rows[1:-1]), rule, fmt(rows[-1]), LEGEND])


LEGEND = """
dyn. violating     compiled, and a ContractViolation on some seed
caught statically  ... of those, rejected by check-contracts (the goal: 100%)
static only        rejected by check-contracts, no violation on any seed (conservative)
neither            accepted by both"""


def report(outcomes: list[Outcome], base: list[Outcome]) -> str:
    lines = [table(outcomes), ""]
    alarms = [o for o in base if o.frontend or o.static or o.dynamic]
    lines.append(f"false alarms on the {len(base)} valid originals: {len(alarms)}")
    for o in alarms:
        lines.append(f"  {o.mutant.program}: {o.frontend or o.static or o.dynamic}")
    unsound = [o for o in outcomes if o.unsound]
    lines.append(f"dynamically violating but statically accepted (unsound): {len(unsound)}")
    for o in unsound:
        lines.append(f"  {o.mutant.program} [{o.mutant.kind}] {o.mutant.description}")
        lines.append(f"      {o.dynamic}")
    partial = [o for o in outcomes if o.frontend is None and o.dynamic is None and o.unrun]
    lines.append(
        f"accepted by the oracle with some tool call never run on any seed: {len(partial)} "
        f"({sum(1 for o in partial if o.static is None)} of them also accepted statically)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="seeds per program")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument("--limit", type=int, default=0, help="only the first N mutants")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    mutants = generate()
    if args.limit:
        mutants = mutants[: args.limit]
    print(
        "command: python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    )
    print(f"seeds per program: {args.seeds} (0..{args.seeds - 1}); processes: {args.jobs}")
    print(f"mutants: {len(mutants)} of {len(site_programs())} site-using examples\n")
    base = evaluate(originals(), args.seeds, args.jobs)
    outcomes = evaluate(mutants, args.seeds, args.jobs)
    print(report(outcomes, base))
    print(f"\nwall time: {time.perf_counter() - start:.1f} s")
    alarms = any(o.frontend or o.static or o.dynamic for o in base)
    return 1 if alarms or any(o.unsound for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
