"""Pipelines: parsing pipeline strings, and running passes with the debugging hooks.

    pm = PassManager.from_pipeline("canonicalize,dce{aggressive=true}",
                                   print_after={"all"}, time_passes=True)
    pm.run(module, PassContext())

Hooks: verify after every pass that changed the IR (on by default), print the IR before/after
chosen passes (or `all`), and a timing table. As in MLIR, a pass that reports no change
(`ctx.changed` left False) is trusted to have left the IR as it was, which already verified;
`verify_unchanged=True` (or `AGENTJIT_VERIFY_ALL=1`, which the test suite sets) verifies after
every pass regardless. An exception raised inside a pass keeps its type and gains a note
naming the pass (and each diagnostic of a `CompilerError` gains the same note).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field, fields
from typing import IO, Any

from agentjit.ir import (
    SOURCES,
    CompilerError,
    Location,
    ModuleOp,
    ParseError,
    VerifyError,
    error,
    print_ir,
    suggest,
    verify,
)
from agentjit.passes.base import Pass, PassContext

PIPELINE_FILE = "<pipeline>"


class PipelineError(ParseError):
    """A pipeline string names an unknown pass or option, or gives a bad option value."""


def _fail(text: str, start: int, end: int, message: str, hint: str = "") -> PipelineError:
    SOURCES.add(PIPELINE_FILE, text)
    loc = Location(PIPELINE_FILE, 1, start + 1, 1, max(end, start + 1) + 1)
    return PipelineError(error("pipeline", message, loc, hint))


def split_pipeline(text: str) -> list[tuple[str, int]]:
    """Top-level comma-separated items of a pipeline string, each with its offset."""
    items: list[tuple[str, int]] = []
    depth, start = 0, 0
    for i, ch in enumerate(text + ","):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise _fail(text, i, i, "unbalanced '}' in pipeline")
        elif ch == "," and depth == 0:
            chunk = text[start:i]
            if chunk.strip():
                items.append((chunk.strip(), start + len(chunk) - len(chunk.lstrip())))
            start = i + 1
    if depth != 0:
        raise _fail(text, len(text) - 1, len(text), "unbalanced '{' in pipeline")
    return items


def _convert(raw: str, kind: Any) -> Any:
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    if kind_name == "bool":
        if raw not in ("true", "false"):
            raise ValueError("expected true or false")
        return raw == "true"
    if kind_name == "int":
        return int(raw)
    if kind_name == "float":
        return float(raw)
    return raw


def build_pass(item: str, offset: int, text: str) -> Pass:
    """One pass from `name` or `name{k=v,...}`."""
    from agentjit.passes import REGISTRY, pass_names

    name, _, rest = item.partition("{")
    name = name.strip()
    if name not in REGISTRY:
        hint = suggest(name, pass_names()) or "passes: " + ", ".join(pass_names())
        raise _fail(text, offset, offset + len(name), f"unknown pass '{name}'", hint)
    cls = REGISTRY[name]()
    if rest and not rest.endswith("}"):
        raise _fail(text, offset, offset + len(item), "options must end with '}'")
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for option in filter(None, (o.strip() for o in rest[:-1].split(","))):
        key, eq, raw = option.partition("=")
        key = key.strip()
        where = offset + item.index(option)
        if key not in known or not eq:
            listing = ", ".join(known) or "none"
            raise _fail(
                text,
                where,
                where + len(option),
                f"pass '{name}' has no option '{key}'",
                f"its options: {listing}",
            )
        try:
            kwargs[key] = _convert(raw.strip(), known[key].type)
        except ValueError as exc:
            raise _fail(
                text, where, where + len(option), f"bad value for {name}{{{key}}}: {exc}"
            ) from None
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise _fail(text, offset, offset + len(item), f"bad options for '{name}': {exc}") from None


def parse_pipeline(text: str) -> list[Pass]:
    """The passes a pipeline string names, with their options; raises `PipelineError`."""
    return [build_pass(item, offset, text) for item, offset in split_pipeline(text)]


@dataclass
class PassManager:
    """Runs passes in order with verification, printing and timing hooks."""

    passes: list[Pass]
    verify_each: bool = True
    print_before: set[str] = field(default_factory=set)
    print_after: set[str] = field(default_factory=set)
    time_passes: bool = False
    verify_unchanged: bool = field(
        default_factory=lambda: os.environ.get("AGENTJIT_VERIFY_ALL", "") not in ("", "0")
    )
    out: IO[str] = field(default_factory=lambda: sys.stderr)
    timings: list[tuple[str, float]] = field(default_factory=list)

    @staticmethod
    def from_pipeline(text: str, **kwargs: Any) -> PassManager:
        return PassManager(parse_pipeline(text), **kwargs)

    def run(self, module: ModuleOp, ctx: PassContext | None = None) -> None:
        ctx = ctx or PassContext()
        self.timings = []
        for p in self.passes:
            spec = p.spec()
            if self._wants(self.print_before, p):
                self.out.write(f"// ----- IR before {spec} ----- //\n{print_ir(module)}\n")
            ctx.changed = False
            start = time.perf_counter()
            self._run_one(p, spec, module, ctx)
            self.timings.append((spec, time.perf_counter() - start))
            if ctx.changed:
                ctx.analyses.clear()
            if self.verify_each and (ctx.changed or self.verify_unchanged):
                self._verify_after(spec, module)
            if self._wants(self.print_after, p):
                self.out.write(f"// ----- IR after {spec} ----- //\n{print_ir(module)}\n")
        if self.time_passes:
            self.out.write(self.timing_report())

    @staticmethod
    def _wants(selected: set[str], p: Pass) -> bool:
        return "all" in selected or p.name in selected

    @staticmethod
    def _run_one(p: Pass, spec: str, module: ModuleOp, ctx: PassContext) -> None:
        try:
            p.run(module, ctx)
        except CompilerError as exc:
            exc.diagnostics = [d.with_note(f"while running pass: {spec}") for d in exc.diagnostics]
            exc.add_note(f"while running pass: {spec}")
            raise
        except Exception as exc:
            exc.add_note(f"while running pass: {spec}")
            raise

    @staticmethod
    def _verify_after(spec: str, module: ModuleOp) -> None:
        try:
            verify(module)
        except VerifyError as exc:
            note = f"the IR does not verify after pass: {spec}"
            exc.diagnostics = [d.with_note(note) for d in exc.diagnostics]
            exc.add_note(note)
            raise

    def timing_report(self) -> str:
        total = sum(t for _, t in self.timings) or 1e-12
        lines = ["===- pass execution timing -===", f"{'time (ms)':>10}  {'share':>6}  pass"]
        for spec, seconds in self.timings:
            lines.append(f"{seconds * 1e3:>10.3f}  {seconds / total:>6.1%}  {spec}")
        lines.append(f"{total * 1e3:>10.3f}  {1:>6.1%}  total")
        return "\n".join(lines) + "\n"


__all__ = ["PassManager", "PipelineError", "parse_pipeline", "split_pipeline"]
