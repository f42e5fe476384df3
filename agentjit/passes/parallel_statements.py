"""Statement-level parallelization: runs of calls on a function's tab that can use another tab.

The function's own tab is a chain of ops threaded by its token. A *run* starts at a navigating
call and extends until the next navigating call. A run may leave the chain when

* nothing depends on the page it leaves: the tab's next use navigates away or returns (in a
  branch, on every path),
* it writes nothing, or only commutatively, and changes no session field (a login, the basket):
  the other tabs' contracts may depend on those,

and the module still passes `check-contracts` once it has moved (with a rematerialized head if
its first call needs a state a fresh tab lacks), and

* no call after it writes to a site it reads (on another tab it could see that write),
* it would overlap with work left on the function's tab.

Moved runs go to new tabs forked right after the last call before them that changed the
session or wrote to the server (so they see it); with more runs than `max_tabs - 1` new tabs, each
further run joins the least-loaded new tab, after the runs already there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentjit.ir import (
    TAB,
    FuncOp,
    ModuleOp,
    Operation,
    TabCloseOp,
    TabOpenOp,
    TabToken,
    ToolCallOp,
    Value,
)
from agentjit.passes.parallelize import establish, hedgeable, next_tab_number, starts_fresh
from agentjit.passes.rewrite import Transaction
from agentjit.tools import load_tool


@dataclass
class NewTab:
    """A forked tab being filled with runs: its fork, its close and its calls so far."""

    number: int
    fork: TabOpenOp
    close: TabCloseOp
    calls: list[ToolCallOp] = field(default_factory=list)


def tab_token_of(op: Operation) -> tuple[int, Value] | None:
    for i, v in enumerate(op.operands):
        if isinstance(v.type, TabToken):
            return i, v
    return None


def main_chain(func: FuncOp) -> list[Operation]:
    """The ops threaded by the function's own tab token, in order."""
    block = func.body.block
    token = next((a for a in block.args if isinstance(a.type, TabToken)), None)
    chain: list[Operation] = []
    while token is not None and len(token.users) == 1:
        op = token.users[0]
        chain.append(op)
        if isinstance(op, TabOpenOp):
            token = op.source_out
        else:
            outs = [r for r in op.results if isinstance(r.type, TabToken)]
            token = outs[0] if len(outs) == 1 else None
    return chain


def changes_session(call: ToolCallOp) -> bool:
    found = load_tool(call.tool)
    if found is None:
        return True  # an unknown tool might
    site, tool = found
    return any(name in site.session_fields for name in tool.contract.ensures)


def movable(run: list[ToolCallOp]) -> bool:
    for call in run:
        effects = call.declared_effects
        if (effects.writes and not effects.commutative) or changes_session(call):
            return False
    return True


def split_runs(chain: list[Operation]) -> list[list[ToolCallOp]]:
    """The movable runs of the chain, but the first (the function's tab keeps some work)."""
    runs: list[list[ToolCallOp]] = []
    current: list[ToolCallOp] | None = None
    for op in chain:
        is_call = isinstance(op, ToolCallOp)
        if is_call and op.declared_effects.navigates:
            if current:
                runs.append(current)
            current = [op]
        elif is_call and current is not None:
            current.append(op)
        elif current:
            runs.append(current)
            current = None
    if current:
        runs.append(current)
    return [run for run in runs[1:] if movable(run) and starts_fresh(tab_out(run[-1]))]


def tab_out(op: Operation) -> Value:
    return next(r for r in op.results if isinstance(r.type, TabToken))


def orders_later_reads(call: ToolCallOp) -> bool:
    """Calls after which a moved run must fork: they change the session or the server."""
    return bool(call.declared_effects.writes) or changes_session(call)


def fork_point(chain: list[Operation], run: list[ToolCallOp]) -> Operation | None:
    """The last call before `run` that changed the session or wrote to the server (None: fork
    at the function's start): the moved run must see what they did."""
    for i in range(chain.index(run[0]) - 1, -1, -1):
        op = chain[i]
        if isinstance(op, ToolCallOp) and orders_later_reads(op):
            return op
    return None


def overlaps(chain: list[Operation], run: list[ToolCallOp]) -> bool:
    """Whether a moved run would run alongside anything: calls stay on the function's tab
    between its fork point and it."""
    for i in range(chain.index(run[0]) - 1, -1, -1):
        if isinstance(chain[i], ToolCallOp):
            return not orders_later_reads(chain[i])
    return False


def call_positions(func: FuncOp) -> tuple[dict[Operation, int], dict[str, int]]:
    """Each call's position in program order, and each site's last writing call's position."""
    order: dict[Operation, int] = {}
    last_write: dict[str, int] = {}
    for i, call in enumerate(op for op in func.walk() if isinstance(op, ToolCallOp)):
        order[call] = i
        if call.declared_effects.writes:
            last_write[call.site_name] = i
    return order, last_write


def written_later(
    positions: tuple[dict[Operation, int], dict[str, int]], run: list[ToolCallOp]
) -> bool:
    """Whether some call after the run writes to a site the run reads: moved to another tab,
    the run could see that write, which it must not. Positions are taken before any move;
    moves only go earlier, so what was after a run stays after it."""
    order, last_write = positions
    end = order[run[-1]]
    return any(last_write.get(c.site_name, -1) > end for c in run)


class StatementParallelizer:
    def __init__(self, module: ModuleOp, func: FuncOp, max_tabs: int) -> None:
        self.module, self.func, self.max_tabs = module, func, max_tabs
        self.block = func.body.block
        self.tabs: list[NewTab] = []
        self.next_number = next_tab_number(func)

    def run(self) -> bool:
        moved = False
        positions = call_positions(self.func)
        # The main chain minus the runs moved so far: what fork_point and overlaps look at
        # (the forks a move inserts are not calls, so they may be left out).
        self.chain = main_chain(self.func)
        for run in split_runs(self.chain):
            if overlaps(self.chain, run) and not written_later(positions, run) and self.move(run):
                moved = True
                gone = set(run)
                self.chain = [op for op in self.chain if op not in gone]
        for tab in self.tabs:
            tab.fork.attributes["hedgeable"] = hedgeable(tab.calls)
        return moved

    def move(self, run: list[ToolCallOp]) -> bool:
        edit = Transaction()
        first_index, first_token = tab_token_of(run[0]) or (0, None)
        last_out = tab_out(run[-1])
        tab, fresh = self.target(edit, run)
        edit.replace_uses(last_out, first_token)  # the main chain skips the run
        end = tab.close.closed
        edit.set_operand(run[0], first_index, end)
        edit.set_operand(tab.close, 0, last_out)
        for call in run:
            edit.set_attr(call, "tab", tab.number)
        if not establish(self.module, edit, run[0], first_token, tab.number):
            edit.rollback()
            if fresh:
                self.tabs.remove(tab)
            return False
        tab.calls.extend(run)
        return True

    def target(self, edit: Transaction, run: list[ToolCallOp]) -> tuple[NewTab, bool]:
        """The tab the run goes to: a new one while fewer than max_tabs - 1, else the least
        loaded. A new tab is forked and closed at once (its close is rewired as runs join)."""
        if len(self.tabs) < self.max_tabs - 1:
            tab = self.fork(edit, fork_point(self.chain, run))
            self.tabs.append(tab)
            return tab, True
        return min(self.tabs, key=lambda t: len(t.calls)), False

    def fork(self, edit: Transaction, after: Operation | None) -> NewTab:
        if after is None:
            source = next(a for a in self.block.args if isinstance(a.type, TabToken))
        else:
            source = tab_out(after)
        while len(source.users) == 1 and isinstance(source.users[0], TabOpenOp):
            after, source = source.users[0], source.users[0].source_out  # fork in tab order
        anchor = self.block.ops[self.block.ops.index(after) + 1] if after else self.block.ops[0]
        loc = anchor.loc
        fork = TabOpenOp([source], [TAB, TAB], {"tab": self.next_number}, loc=loc)
        edit.insert_before(self.block, fork, anchor)  # before rewiring, so rollback can erase it
        edit.replace_uses(source, fork.source_out, keep=fork)
        close = TabCloseOp([fork.opened], [], {"tab": self.next_number}, loc=loc)
        edit.insert_before(self.block, close, self.block.terminator)
        self.next_number += 1
        return NewTab(fork.tab, fork, close)


def parallel_statements(module: ModuleOp, func: FuncOp, max_tabs: int) -> bool:
    """Move independent runs of the function's own tab to forked tabs; True if any moved."""
    return StatementParallelizer(module, func, max_tabs).run()


__all__ = ["parallel_statements"]
