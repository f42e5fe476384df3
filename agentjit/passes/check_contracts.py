"""`check-contracts`: prove, on every path, that each tool call's requirements hold.

Abstract interpretation over the IR, tab by tab: the state of a tab travels with its token (a
tab forked by `tab.open` starts fresh with its source's session fields), so
branches (`ctl.if`) are joined where their tokens meet and loops (`ctl.for`, comprehensions) are
iterated to a fixpoint. At each `tool.call` the tool's `requires` must hold for *every* value the
state may have there, its `ensures` then update the state, and its `requires_called` arguments
must be derived from the named tools' outputs.

A violation is an error located at the call. It names the requirement, the values that reach
the call and which calls (or the fresh tab) set them, the shortest tool sequence that would
establish the requirement, and the tools callable from there: what an LLM repair loop needs.
Warnings: writes after which the program never reads the site again, and code after an `assert`
that always fails.

Legal on any verified module of programs whose sites are installed. Changes nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from agentjit.ir import (
    AssertOp,
    Block,
    ConstantOp,
    Diagnostic,
    ForOp,
    IfOp,
    ModuleOp,
    Operation,
    PassError,
    Severity,
    TabOpenOp,
    TabToken,
    ToolCallOp,
    Value,
)
from agentjit.ir.ops.structure import yielded_values
from agentjit.passes.base import Pass, PassContext
from agentjit.passes.contract_domain import (
    FieldValue,
    TabState,
    Witness,
    describe_value,
    forget_iteration_values,
    join,
    origins,
    single,
    value_key,
)
from agentjit.tools import UNKNOWN, Site, Tool, load_site
from agentjit.tools.state import allowed_values, describe_pattern, matches, param_ref
from agentjit.tools.statemachine import enabled, shortest_calls

MAX_FIXPOINT_ROUNDS = 50
_SOURCE_NAMES = {
    "$param": "a parameter of the program",
    "literal": "a literal",
    "computed": "a computed value",
}


def _tab_positions(values: tuple[Value, ...] | list[Value]) -> list[int]:
    return [i for i, v in enumerate(values) if isinstance(v.type, TabToken)]


class ContractChecker:
    """Runs the abstract interpretation over one module and collects diagnostics."""

    def __init__(self, module: ModuleOp, observed: dict[str, dict[str, Any]] | None = None) -> None:
        self.observed = observed or {}
        """`site` -> field -> value seen on the live page: where `main`'s tab starts."""
        self.sites: dict[str, Site] = {}
        for name in module.uses:
            site = load_site(name)
            if site is not None:
                self.sites[name] = site
        self.tools: dict[str, tuple[Site, Tool]] = {
            f"{s.name}.{n}": (s, t) for s in self.sites.values() for n, t in s.tools.items()
        }
        self.states: dict[Value, TabState] = {}
        self.errors: dict[tuple[int, str], Diagnostic] = {}
        self.warnings: list[Diagnostic] = []
        self.silent = 0

    # ---- driving ----------------------------------------------------------------------------

    def check(self, module: ModuleOp) -> None:
        for func in module.functions:
            block = func.body.block
            for n, i in enumerate(_tab_positions(block.args)):
                live = func.start_state if n == 0 else None
                self.states[block.args[i]] = self.live_tab(live) if live else self.fresh_tab()
            self.walk(block)
        self.warn_unread_writes(module)
        self.warn_dead_asserts(module)

    def fresh_tab(self) -> TabState:
        start = Witness("start", None)
        return {
            f"{site.name}.{name}": single(value, start)
            for site in self.sites.values()
            for name, value in site.start_state().items()
        }

    def live_tab(self, observed: dict[str, dict[str, Any]]) -> TabState:
        """A fresh tab overridden by the observed fields (re-planning continues a live tab)."""
        state = self.fresh_tab()
        seen = Witness("observed", None)
        for site_name, fields in observed.items():
            for name, value in fields.items():
                key = f"{site_name}.{name}"
                if key in state and value is not None:
                    state[key] = single(value, seen)
        return state

    def walk(self, block: Block) -> None:
        for op in block.ops:
            if isinstance(op, ToolCallOp):
                self.call(op)
            elif isinstance(op, IfOp):
                self.branch(op)
            elif isinstance(op, ForOp):
                self.loop(op)
            elif isinstance(op, TabOpenOp):
                self.fork(op)

    def fork(self, op: TabOpenOp) -> None:
        """A forked tab starts on the start page but shares the source's session fields."""
        source = self.states.get(op.source, {})
        self.states[op.source_out] = source
        fresh = self.fresh_tab()
        for site in self.sites.values():
            for name in site.session_fields:
                key = f"{site.name}.{name}"
                if key in source:
                    fresh[key] = source[key]
        self.states[op.opened] = fresh

    def branch(self, op: IfOp) -> None:
        for region in op.regions:
            for i in _tab_positions(op.tokens):
                self.states[region.block.args[i]] = self.states.get(op.tokens[i], {})
            self.walk(region.block)
        then_out, else_out = (yielded_values(r.block) for r in op.regions)
        for j in _tab_positions(op.results):
            self.states[op.results[j]] = join(
                self.states.get(then_out[j], {}), self.states.get(else_out[j], {})
            )

    def loop(self, op: ForOp) -> None:
        body = op.body.block
        tabs = _tab_positions(op.init)
        entry = {i: self.states.get(op.init[i], {}) for i in tabs}
        current = dict(entry)
        self.silent += 1
        for _ in range(MAX_FIXPOINT_ROUNDS):
            after = self.run_body(op, body, current, tabs)
            following = {i: join(entry[i], after[i]) for i in tabs}
            if following == current:
                break
            current = following
        self.silent -= 1
        after = self.run_body(op, body, current, tabs)
        for i in tabs:
            self.states[op.results[i]] = join(entry[i], after[i])

    def run_body(self, op: ForOp, body: Block, states: dict[int, TabState], tabs: list[int]):
        """One abstract iteration: the state after it, with per-iteration values forgotten."""
        for i in tabs:
            self.states[body.args[1 + i]] = states[i]
        self.walk(body)
        out = yielded_values(body)
        return {i: forget_iteration_values(self.states.get(out[i], {}), op) for i in tabs}

    # ---- one call ---------------------------------------------------------------------------

    def call(self, op: ToolCallOp) -> None:
        site_tool = self.tools.get(op.tool)
        tabs_in = [v for v in op.token_operands if isinstance(v.type, TabToken)]
        state = self.states.get(tabs_in[0]) if tabs_in else None
        if site_tool is not None:
            site, tool = site_tool
            args = dict(zip(op.args, op.data_operands, strict=False))
            if state is not None:
                self.check_requires(op, site, tool, state, args)
                state = self.apply_ensures(op, site, tool, state, args)
            self.check_requires_called(op, tool, args)
        for v in op.token_results:
            if isinstance(v.type, TabToken) and state is not None:
                self.states[v] = state

    def check_requires(
        self, op: ToolCallOp, site: Site, tool: Tool, state: TabState, args: dict[str, Value]
    ) -> None:
        for name, pattern in tool.contract.requires.items():
            values = state.get(f"{site.name}.{name}", {UNKNOWN: frozenset()})
            ref = param_ref(pattern)
            if ref is not None:
                want = {value_key(args[ref])} if ref in args else set()
                bad = {v: w for v, w in values.items() if v not in want}
            else:
                allowed = allowed_values(pattern)
                if allowed is None:
                    continue
                bad = {v: w for v, w in values.items() if not matches(pattern, v)}
            if bad:
                self.violation(op, site, tool, name, pattern, bad, state)

    def apply_ensures(
        self, op: ToolCallOp, site: Site, tool: Tool, state: TabState, args: dict[str, Value]
    ) -> TabState:
        out = dict(state)
        witness = Witness(op.tool.rsplit(".", 1)[-1], op.loc)
        if tool.signature.effects.navigates:
            for other in self.sites.values():
                if other is not site:
                    for name in other.state.fields:
                        if name not in other.session_fields:
                            out[f"{other.name}.{name}"] = single(UNKNOWN, witness)
        for name, pattern in tool.contract.ensures.items():
            out[f"{site.name}.{name}"] = self.ensured(op, pattern, args, witness)
        return out

    @staticmethod
    def ensured(op: ToolCallOp, pattern: Any, args: dict[str, Value], w: Witness) -> FieldValue:
        ref = param_ref(pattern)
        if ref == "result":
            return single(value_key(op.output), w)
        if ref is not None:
            return single(value_key(args[ref]), w) if ref in args else single(UNKNOWN, w)
        allowed = allowed_values(pattern)
        if not allowed:
            return single(UNKNOWN, w)
        return {v: frozenset([w]) for v in allowed}

    def check_requires_called(self, op: ToolCallOp, tool: Tool, args: dict[str, Value]) -> None:
        for arg, producers in tool.contract.requires_called.items():
            came = origins(args[arg]) if arg in args else set(producers)
            if came and came <= set(producers):
                continue
            wanted = " or ".join(f"{p}()" for p in producers)
            others = sorted(came - set(producers)) or ["nothing"]
            sources = ", ".join(_SOURCE_NAMES.get(c, f"the output of {c}()") for c in others)
            self.report(
                op,
                f"called:{arg}",
                f"{op.tool}(): '{arg}' must be a value read from {wanted}, but it may be {sources}",
                f"pass a value from the page unchanged, e.g. items = {producers[0]}(...), then "
                f"{arg}=items[0].{arg}",
                (),
            )

    # ---- reporting --------------------------------------------------------------------------

    def violation(
        self,
        op: ToolCallOp,
        site: Site,
        tool: Tool,
        name: str,
        pattern: Any,
        bad: FieldValue,
        state: TabState,
    ) -> None:
        seen = " or ".join(describe_value(v) for v in bad)
        message = (
            f"{op.tool}() requires {name} to be {describe_pattern(pattern)}, "
            f"but here it may be {seen}"
        )
        notes = tuple(
            f"{name} = {describe_value(v)} comes from {', '.join(sorted(map(str, ws))) or '?'}"
            for v, ws in bad.items()
        )
        failing = {**state, f"{site.name}.{name}": bad}  # repair from the states that fail
        self.report(op, name, message, self.repair_hint(site, tool, name, pattern, failing), notes)

    def repair_hint(self, site: Site, tool: Tool, name: str, pattern: Any, state: TabState) -> str:
        concrete = self.concrete_states(site, state)
        ref = param_ref(pattern)
        if ref is not None:
            setters = [
                t for t, spec in site.tools.items() if param_ref(spec.contract.ensures.get(name))
            ]
            first = f"call {' or '.join(setters)} with the same {ref} first" if setters else ""
        else:
            path = shortest_calls(site, concrete[0], tool.contract.requires) if concrete else None
            first = f"call {' then '.join(path)} first" if path else ""
        callable_here = [
            t
            for t, spec in site.tools.items()
            if all(enabled(spec, s, site.state.enum_fields()) for s in concrete)
        ]
        listing = f"tools callable here: {', '.join(callable_here) or 'none'}"
        return f"{first}; {listing}" if first else listing

    @staticmethod
    def concrete_states(site: Site, state: TabState) -> list[dict[str, Any]]:
        """Every combination of Enum-field values the abstract state allows (bounded)."""
        fields = list(site.state.enum_fields())
        choices = [list(state.get(f"{site.name}.{f}", {UNKNOWN: 0})) for f in fields]
        combos = itertools.islice(itertools.product(*choices), 64)
        return [dict(zip(fields, combo, strict=True)) for combo in combos]

    def report(
        self, op: Operation, what: str, message: str, hint: str, notes: tuple[str, ...]
    ) -> None:
        key = (id(op), what)
        if not self.silent and key not in self.errors:
            self.errors[key] = Diagnostic("contract", message, op.loc, hint, notes=notes)

    # ---- warnings ---------------------------------------------------------------------------

    def warn_unread_writes(self, module: ModuleOp) -> None:
        calls = [op for op in module.walk() if isinstance(op, ToolCallOp)]
        for i, op in enumerate(calls):
            effects = op.declared_effects
            if not effects.writes:
                continue
            site, later = op.site_name, calls[i + 1 :]
            if not any(c.site_name == site and c.declared_effects.reads_page for c in later):
                self.warnings.append(
                    Diagnostic(
                        "unread-write",
                        f"{op.tool}() writes {', '.join(sorted(effects.writes))}, but the program "
                        f"never reads {site} afterwards",
                        op.loc,
                        "read the result back (for example, list what was written) so the run "
                        "can confirm it",
                        Severity.WARNING,
                    )
                )

    def warn_dead_asserts(self, module: ModuleOp) -> None:
        for op in module.walk():
            if not isinstance(op, AssertOp) or op.parent is None:
                continue
            cond = op.cond
            failing = isinstance(getattr(cond, "op", None), ConstantOp) and not cond.op.value
            following = op.parent.ops[op.parent.ops.index(op) + 1 : -1]
            if failing and any(o.loc.known for o in following):
                self.warnings.append(
                    Diagnostic(
                        "dead-code",
                        "this assert always fails, so the code after it never runs",
                        op.loc,
                        "fix the condition, or remove the code after it",
                        Severity.WARNING,
                    )
                )


@dataclass(frozen=True)
class CheckContractsPass(Pass):
    """Check every tool call's contract on every path (see the module docstring).

    Legal on any verified module; changes nothing. Raises `PassError` with one located
    diagnostic per violated requirement; adds warnings to `ctx.warnings`. A function with a
    `start_state` attribute starts its first tab in that state instead of a fresh tab's:
    re-planning from where a failed run stopped.
    """

    name = "check-contracts"

    def run(self, module: ModuleOp, ctx: PassContext) -> None:
        checker = ContractChecker(module)
        checker.check(module)
        ctx.warnings.extend(checker.warnings)
        if checker.errors:
            diags = sorted(checker.errors.values(), key=lambda d: (d.loc.line, d.loc.col))
            raise PassError(diags)


__all__ = ["CheckContractsPass", "ContractChecker"]
