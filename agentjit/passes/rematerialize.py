"""Rematerialization: the calls that put a new tab into the state a moved chain needs.

A chain moved to a forked tab starts on the site's start page. If its first call needs more
(a listing page, a ticket page), the same state is rebuilt on the new tab by calls inserted at
the chain's head. Candidates, shortest first:

1. nothing, when the chain's head is a navigation (a navigation reads only what it opens);
2. the shortest tool sequence the site's state machine gives from the start page to a state
   meeting the head's requirements, each tool called with the arguments of its latest call on
   the source tab (or none, if it needs none);
3. the source tab's own navigation history, replayed from its most recent call backwards.

When the chain's head reads the page without navigating, what it reads must be what the source
tab showed, so the candidate must end with the source tab's latest navigation. Only navigations
that are idempotent and write nothing are replayed. The caller keeps the first candidate with
which the module passes `check-contracts`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from agentjit.ir import (
    Operation,
    OpResult,
    TabOpenOp,
    TabToken,
    ToolCallOp,
    Value,
)
from agentjit.passes.rewrite import Transaction
from agentjit.tools import Site, load_tool
from agentjit.tools.statemachine import shortest_calls


@dataclass(frozen=True)
class CallSpec:
    """A call to insert: a copy of an existing call (with its data operands), or a fresh call
    of an argument-free tool."""

    like: ToolCallOp | None
    tool: str
    effects: dict
    result_type: object

    def build(self, token: Value) -> ToolCallOp:
        data = list(self.like.data_operands) if self.like is not None else []
        args = list(self.like.args) if self.like is not None else []
        attrs = {"tool": self.tool, "args": args, "effects": dict(self.effects)}
        loc = self.like.loc if self.like is not None else token_loc(token)
        return ToolCallOp([*data, token], [self.result_type, token.type], attrs, loc=loc)


def token_loc(token: Value):
    op = token.op if isinstance(token, OpResult) else None
    return op.loc if op is not None else token.block.parent_op.loc  # type: ignore[attr-defined]


def replayable(op: ToolCallOp) -> bool:
    effects = op.declared_effects
    return effects.navigates and effects.idempotent and not effects.writes


def navigation_history(token: Value) -> list[ToolCallOp]:
    """The replayable navigations that led to `token`'s tab state, oldest first; the history
    stops at the first call it cannot replay, at a branch or loop, or at the function's entry."""
    history: list[ToolCallOp] = []
    value = token
    while isinstance(value, OpResult):
        op = value.op
        if isinstance(op, TabOpenOp) and value is op.source_out:
            value = op.source
            continue
        if not isinstance(op, ToolCallOp):
            break
        if op.declared_effects.navigates:
            if not replayable(op):
                break
            history.append(op)
        value = next(v for v in op.token_operands if isinstance(v.type, TabToken))
    return history[::-1]


def _spec_of(op: ToolCallOp) -> CallSpec:
    return CallSpec(op, op.tool, op.effects, op.output.type)


def _fresh_spec(site: Site, name: str) -> CallSpec | None:
    tool = site.tools[name]
    if any(p.required for p in tool.signature.params):
        return None
    sig = tool.signature
    return CallSpec(None, sig.qualified_name, sig.effects.to_attr(), sig.result)


def _from_state_machine(
    head: ToolCallOp, history: list[ToolCallOp], start: dict
) -> list[CallSpec] | None:
    found = load_tool(head.tool)
    if found is None:
        return None
    site, tool = found
    path = shortest_calls(site, start, tool.contract.requires)
    if not path:
        return None
    latest = {op.tool: op for op in history}
    specs = []
    for name in path:
        like = latest.get(f"{site.name}.{name}")
        spec = _spec_of(like) if like is not None else _fresh_spec(site, name)
        if spec is None:
            return None
        specs.append(spec)
    return specs


def candidate_prefixes(
    head: ToolCallOp | None, history: list[ToolCallOp], start: dict
) -> Iterator[list[CallSpec]]:
    """Prefixes to try, shortest first (see the module docstring)."""
    reads_in_place = head is not None and not head.declared_effects.navigates
    last = history[-1] if history else None

    def fits(specs: list[CallSpec]) -> bool:
        return not reads_in_place or (bool(specs) and specs[-1].like is last)

    if head is None or fits([]):
        yield []
    if head is not None:
        specs = _from_state_machine(head, history, start)
        if specs is not None and fits(specs):
            yield specs
    for n in range(1, len(history) + 1):
        yield [_spec_of(op) for op in history[-n:]]


def insert_prefix(
    edit: Transaction, before: Operation, token: Value, specs: list[CallSpec], tab: int
) -> Value:
    """Insert the calls before `before`, on tab number `tab`, threading `token` through them;
    return the last token."""
    block = before.parent
    assert block is not None
    for spec in specs:
        call = spec.build(token)
        call.attributes["tab"] = tab
        edit.insert_before(block, call, before)
        token = call.token_results[0]
    return token


__all__ = [
    "CallSpec",
    "candidate_prefixes",
    "insert_prefix",
    "navigation_history",
    "replayable",
]
