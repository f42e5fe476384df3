"""Tab allocation, made explicit by `parallelize`: `tab.open` forks a tab, `tab.close` ends one.

`tab.open` takes the token of the tab it forks from and returns that token unchanged (the fork
is ordered after whatever ran on the source tab before it) and the token of a new tab in the
same browser context: the new tab starts on the site's start page, shares the source's cookies
and session (a login carries over), and is numbered by the `tab` attribute (0 is the function's
own tab). `hedgeable` marks a tab whose every call is read-only and idempotent, so the schedule
may run k copies of it and keep the first to finish.

`tab.close` consumes the last token of a tab. Every tab a function opens is closed in the block
that opened it.
"""

from __future__ import annotations

from agentjit.ir.operation import ANY_TYPE, Operation, attr, operand, result
from agentjit.ir.types import TabToken
from agentjit.ir.value import OpResult, Value


class TabOpenOp(Operation):
    """Fork a new tab from `source`: results are the source's token and the new tab's token."""

    name = "tab.open"
    source = operand(ANY_TYPE)
    tab = attr(int)
    hedgeable = attr(bool, optional=True)
    source_out = result(ANY_TYPE)
    opened = result(ANY_TYPE)

    def verify_(self) -> None:
        types = [self.source.type, self.source_out.type, self.opened.type]
        if not all(isinstance(t, TabToken) for t in types):
            raise ValueError("tab.open takes and returns !tab tokens")
        if self.tab < 1:
            raise ValueError(f"opened tabs are numbered from 1, not {self.tab}")
        if not self.opened.has_uses:
            raise ValueError(f"tab {self.tab} is opened but never used or closed")


class TabCloseOp(Operation):
    """Close a tab opened by `tab.open`, consuming its last token."""

    name = "tab.close"
    closed = operand(ANY_TYPE)
    tab = attr(int)

    def verify_(self) -> None:
        if not isinstance(self.closed.type, TabToken):
            raise ValueError(f"tab.close takes a !tab token, not {self.closed.type}")
        origin = static_tab(self.closed)
        if origin is not None and origin != self.tab:
            raise ValueError(f"closes tab {self.tab}, but its token belongs to tab {origin}")
        if self.tab < 1:
            raise ValueError("tab 0 (the function's own tab) is not closed by the program")


def static_tab(token: Value) -> int | None:
    """The tab number a token belongs to, when its defining op says so (None if unknown)."""
    if not isinstance(token, OpResult):
        return None
    op = token.op
    if isinstance(op, TabOpenOp):
        return op.tab if token is op.opened else None
    return _attr_tab(op)


def _attr_tab(op: Operation) -> int | None:
    tab = op.attributes.get("tab")
    return tab if isinstance(tab, int) and not isinstance(tab, bool) else None


def check_parallel_body(body_args: list[Value], yielded: list[Value]) -> None:
    """Why a `ctl.for` body cannot run its iterations concurrently (raises), or nothing.

    Iterations are independent when each carried tab token only forks the iteration's own tab
    (its single use is a `tab.open` whose source token is yielded straight back) and each
    carried resource token is threaded only through commutative writes.
    """
    for i, arg in enumerate(body_args):
        if isinstance(arg.type, TabToken):
            _check_forked_only(arg, yielded[i])
        elif arg.type.is_token:
            _check_commutative_chain(arg, yielded[i])


def _check_forked_only(arg: Value, yielded: Value) -> None:
    users = arg.users
    fork = users[0] if len(users) == 1 else None
    if not isinstance(fork, TabOpenOp) or fork.source_out is not yielded:
        raise ValueError(
            "a parallel loop may use its carried tab only to open each iteration's own tab"
        )


def _check_commutative_chain(arg: Value, yielded: Value) -> None:
    token = arg
    while token is not yielded:
        users = token.users
        op = users[0] if len(users) == 1 else None
        effects = op.attributes.get("effects") if op is not None else None
        if not isinstance(effects, dict) or not effects.get("commutative"):
            raise ValueError(
                f"a parallel loop may carry {arg.type} only through commutative writes"
            )
        token = op.results[op.operands.index(token) - len(op.operands) + len(op.results)]


__all__ = ["TabCloseOp", "TabOpenOp", "check_parallel_body", "static_tab"]
