"""`parallelize{max_tabs=N}`: run independent chains of tab work on tabs of their own.

Two shapes of independence are found in the dataflow:

* **Loop iterations.** A `ctl.for` whose only carried values are its tab token and tokens of
  resources it writes commutatively does the same work on the page for each item, and nothing
  an iteration computes feeds the next (nor reads what another iteration writes). Each
  iteration gets its own tab: the body starts with `tab.open` (forked from the loop's tab),
  ends with `tab.close`, and the loop is marked `max_tabs = N` (at most N iterations at once;
  the source tab waits).
* **Independent statements.** On a function's own tab, a run of calls that starts with a
  navigation and is followed by another navigation (or the end) does not depend on what the tab
  showed before it, and nothing after it depends on what it leaves. Such runs move to forked
  tabs (at most N - 1 new ones; when there are more runs than tabs, a tab takes several runs
  in order), forked right after the last call that changed the session (a login) or wrote to
  the server, so the new tab sees it; a run is not moved if a later call writes to a site it
  reads. See `parallel_statements.py`.

A chain that needs a page state it cannot establish itself gets the calls that establish it
inserted at its head (`rematerialize.py`). Every tab-touching call is tagged with its tab
number; a tab whose calls are all idempotent and write nothing is marked `hedgeable`.

When legal: on a module that passes `check-contracts`. Each rewrite is kept only if the module
still passes `check-contracts`, tab by tab, afterwards; otherwise it is rolled back. A chain
whose first call reads the page without navigating is moved only if its rematerialized head
replays the navigation that showed that page, so it reads the same content.

What it preserves: results and the per-resource order of non-commutative writes (resource
tokens are never re-threaded; commutative writes may interleave, which is what commutative
means). Reads may be repeated (rematerialization) — they are idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentjit.ir import (
    TAB,
    ForOp,
    FuncOp,
    IfOp,
    ModuleOp,
    Operation,
    PassError,
    ReturnOp,
    TabCloseOp,
    TabOpenOp,
    TabToken,
    ToolCallOp,
    Value,
    YieldOp,
)
from agentjit.ir.ops.structure import yielded_values
from agentjit.ir.ops.tabs import check_parallel_body
from agentjit.passes.base import Pass, PassContext
from agentjit.passes.check_contracts import ContractChecker
from agentjit.passes.effects import touches_tab
from agentjit.passes.rematerialize import (
    candidate_prefixes,
    insert_prefix,
    navigation_history,
)
from agentjit.passes.rewrite import Transaction
from agentjit.tools import load_tool


def contract_errors(module: ModuleOp) -> list:
    checker = ContractChecker(module)
    checker.check(module)
    return list(checker.errors.values())


def tab_calls(ops) -> list[ToolCallOp]:
    return [op for op in ops if touches_tab(op)]


def hedgeable(calls: list[ToolCallOp]) -> bool:
    return all(c.declared_effects.idempotent and not c.declared_effects.writes for c in calls)


def tag_main_tab(func: FuncOp) -> None:
    """Calls not moved to another tab run on the function's own tab, number 0."""
    for call in tab_calls(func.walk()):
        call.attributes.setdefault("tab", 0)


def next_tab_number(func: FuncOp) -> int:
    used = [op.tab for op in func.walk() if isinstance(op, TabOpenOp)]
    return max(used, default=0) + 1


def starts_fresh(token: Value, end: Operation | None = None) -> bool:
    """Whether nothing depends on the page `token` stands for: its next user navigates away
    (in every branch), returns, or is `end` (the yield that ends a parallel iteration)."""
    if len(token.users) != 1:
        return False
    op = token.users[0]
    if isinstance(op, ReturnOp) or op is end:
        return True
    if isinstance(op, ToolCallOp):
        return op.declared_effects.navigates
    if isinstance(op, TabOpenOp):
        return starts_fresh(op.source_out, end)
    if isinstance(op, IfOp):
        position = op.tokens.index(token)
        results = [r for r in op.results if isinstance(r.type, TabToken)]
        branches = [r.block.args[position] for r in op.regions]
        passes_through = any(isinstance(a.users[0], YieldOp) for a in branches if a.users)
        fresh_after = len(results) == 1 and starts_fresh(results[0], end)
        return all(starts_fresh(a, end) or isinstance(a.users[0], YieldOp) for a in branches) and (
            not passes_through or fresh_after
        )
    return False


def establish(
    module: ModuleOp, edit: Transaction, head: ToolCallOp | None, source: Value, tab: int
) -> bool:
    """Make `head` (on tab `tab`) pass its contract by inserting the first candidate prefix
    (`rematerialize.py`) with which the module checks; the chain came from the tab whose token
    was `source`. False, with nothing inserted, if no candidate works."""
    if head is None:
        return not contract_errors(module)
    token_index = next(i for i, v in enumerate(head.operands) if isinstance(v.type, TabToken))
    token = head.operands[token_index]
    found = load_tool(head.tool)
    start = found[0].start_state() if found is not None else {}
    for specs in candidate_prefixes(head, navigation_history(source), start):
        attempt = Transaction()
        end = insert_prefix(attempt, head, token, specs, tab)
        attempt.set_operand(head, token_index, end)
        if not contract_errors(module):
            edit.log.extend(attempt.log)
            return True
        attempt.rollback()
    return False


def parallel_loop(module: ModuleOp, loop: ForOp, tab: int, max_tabs: int) -> bool:
    """Give each iteration of `loop` its own tab (see the module docstring); True if done."""
    shape = _loop_shape(loop)
    if shape is None:
        return False
    index, t_in, t_out, head = shape
    body = loop.body.block
    edit = Transaction()
    fork = TabOpenOp([t_in], [TAB, TAB], {"tab": tab}, loc=loop.loc)
    uses = [u for u in t_in.uses if u.op is not fork]
    edit.insert_before(body, fork, body.ops[0])
    for use in uses:
        edit.set_operand(use.op, use.index, fork.opened)
    edit.set_operand(body.terminator, index, fork.source_out)
    edit.insert_before(body, TabCloseOp([t_out], [], {"tab": tab}, loc=loop.loc), body.terminator)
    calls = tab_calls(body.walk())
    for call in calls:
        edit.set_attr(call, "tab", tab)
    edit.set_attr(loop, "max_tabs", max_tabs)
    if not establish(module, edit, head, loop.init[index], tab):
        edit.rollback()
        return False
    edit.set_attr(fork, "hedgeable", hedgeable(tab_calls(body.walk())))
    return True


def races_with_other_iterations(body) -> bool:
    """Whether an iteration reads (uses the output of) a call of a site the loop writes to:
    with iterations running at once, it could see another iteration's write."""
    calls = [op for op in body.walk() if isinstance(op, ToolCallOp)]
    written = {c.site_name for c in calls if c.declared_effects.writes}
    return any(c.site_name in written and c.output.has_uses for c in calls)


def _restore(loop: ForOp, snapshot: ForOp, page_loop: ForOp, carried: int) -> None:
    """Undo a split: put `snapshot` (an unattached copy of `loop` taken before it) back, and
    remove the split loops and the constants the split added between them."""
    block = loop.parent
    assert block is not None
    block.insert_before(snapshot, page_loop)
    for old, new in zip(loop.results[:carried], snapshot.results[:carried], strict=True):
        old.replace_all_uses_with(new)
    if snapshot.collect:
        loop.results[-1].replace_all_uses_with(snapshot.results[-1])
    between = block.ops[block.ops.index(page_loop) + 1 : block.ops.index(loop)]
    loop.erase()
    page_loop.erase()
    for op in between:
        op.erase()


def _loop_shape(loop: ForOp) -> tuple[int, Value, Value, ToolCallOp | None] | None:
    """(tab position, body's tab argument, yielded tab, first call) of a loop whose
    iterations are independent, or None."""
    if loop.attributes.get("max_tabs") is not None or any(
        isinstance(op, TabOpenOp) for op in loop.walk()
    ):
        return None
    tabs = [i for i, v in enumerate(loop.init) if isinstance(v.type, TabToken)]
    if len(tabs) != 1 or any(not v.type.is_token for v in loop.init):
        return None
    body = loop.body.block
    index, yielded = tabs[0], yielded_values(body)
    t_in, t_out = body.args[1 + index], yielded[index]
    if t_out is t_in:
        return None
    try:
        others = [i for i in range(len(loop.init)) if i != index]
        check_parallel_body([body.args[1 + i] for i in others], [yielded[i] for i in others])
    except ValueError:
        return None
    if races_with_other_iterations(body):
        return None
    navigates = any(c.declared_effects.navigates for c in tab_calls(body.walk()))
    if navigates and not starts_fresh(t_in, body.terminator):
        return None  # a later iteration would read what the previous one navigated to
    first = t_in.users[0] if len(t_in.users) == 1 else None
    return index, t_in, t_out, first if isinstance(first, ToolCallOp) else None


@dataclass(frozen=True)
class ParallelizePass(Pass):
    """Move independent tab work onto tabs of its own (see the module docstring).

    Options: `max_tabs` (tabs working at once, default 4; 1 turns the pass off), `loops` and
    `statements` (which of the two shapes to look for), `fission` (split reduction loops so
    their page work can run in parallel, `loop_fission.py`). Legal on a module that passes
    `check-contracts` (raises its errors otherwise); keeps results, non-commutative write order
    and every contract on every tab.
    """

    name = "parallelize"
    max_tabs: int = 4
    loops: bool = True
    statements: bool = True
    fission: bool = True

    def run(self, module: ModuleOp, ctx: PassContext) -> None:
        if self.max_tabs < 2:
            return
        errors = contract_errors(module)
        if errors:
            raise PassError(sorted(errors, key=lambda d: (d.loc.line, d.loc.col)))
        for func in module.functions:
            if self.loops:
                ctx.changed |= self.parallel_loops(module, func)
            if self.statements:
                from agentjit.passes.parallel_statements import parallel_statements

                ctx.changed |= parallel_statements(module, func, self.max_tabs)
            if any(isinstance(op, TabOpenOp) for op in func.walk()):
                tag_main_tab(func)

    def parallel_loops(self, module: ModuleOp, func: FuncOp) -> bool:
        changed = False
        tab = next_tab_number(func)  # one walk, not one per loop; a tab used moves it on
        for loop in [op for op in func.walk() if isinstance(op, ForOp)]:
            inside_parallel = any(
                isinstance(a, ForOp) and a.attributes.get("max_tabs") for a in loop.ancestors()
            )
            if inside_parallel:
                continue
            if parallel_loop(module, loop, tab, self.max_tabs) or (
                self.fission and self.split_and_parallelize(module, loop, tab)
            ):
                changed = True
                tab += 1
        return changed

    def split_and_parallelize(self, module: ModuleOp, loop: ForOp, tab: int) -> bool:
        """Split a reduction loop's page work into a loop of its own and parallelize that;
        the split is kept only if the new loop runs in parallel (see `loop_fission.py`)."""
        from agentjit.ir.clone import clone_op
        from agentjit.passes.loop_fission import fission_plan, split_loop

        plan = fission_plan(loop)
        if plan is None:
            return False
        snapshot = clone_op(loop, {})  # unattached, but it registers uses: erase it when done
        carried = len(loop.init)
        page_loop = split_loop(loop, plan)
        if parallel_loop(module, page_loop, tab, self.max_tabs):
            snapshot.erase()
            return True
        _restore(loop, snapshot, page_loop, carried)
        return False


__all__ = ["ParallelizePass", "contract_errors", "parallel_loop"]
