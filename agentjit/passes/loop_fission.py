"""Loop fission for `parallelize`: split a reduction loop into a map of page work and the rest.

A loop that carries data (a running total, a best-so-far) cannot run its iterations at once. But
its page work often does not depend on the carried data: `open_category(name=c)` and
`list_products()` per category, then a max over the results. Such a loop becomes two:

    %tab2, %outs = ctl.for(%items, %tab) {collect}   the page work, nothing else carried
    ... = ctl.for(%items, %init..., %zero) {...}      the original body; each page call's
                                                      output is read as %outs[%i], %i counting

The first loop can then be parallelized like any fan-out. Legal when the loop's only carried
token is its tab; its page calls sit in the body's top block, write nothing, and together with
everything they read (the backward slice, all of it pure) use no carried data. At most one page
call's output may be read by the rest of the body. Behaviour: the same calls with the same
arguments, all before the rest of the loop runs; they are idempotent reads and navigations, so
the reordering is unobservable, and results are unchanged.
"""

from __future__ import annotations

from agentjit.ir import (
    INT,
    Block,
    ConstantOp,
    ForOp,
    GetItemOp,
    HasSideEffects,
    ListType,
    Operation,
    OpResult,
    Region,
    TabToken,
    ToolCallOp,
    Value,
    YieldOp,
)
from agentjit.ir.clone import clone_op
from agentjit.ir.ops.structure import yielded_values
from agentjit.ir.ops.values import BINARY_OPS


def page_chain(body: Block, t_in: Value, t_out: Value) -> list[ToolCallOp] | None:
    """The calls threading the body's tab token, if all are write-free calls of the body's
    top block."""
    chain: list[ToolCallOp] = []
    token = t_in
    while token is not t_out:
        users = token.users
        op = users[0] if len(users) == 1 else None
        if not isinstance(op, ToolCallOp) or op.parent is not body or op.declared_effects.writes:
            return None
        chain.append(op)
        token = op.token_results[0]
    return chain


def backward_slice(body: Block, chain: list[ToolCallOp], carried: set[Value]) -> list | None:
    """The body ops the chain reads, in body order; None if any reads carried data or is not
    pure."""
    wanted: set[Operation] = set(chain)
    work = list(chain)
    while work:
        for nested in work.pop().walk():
            for v in nested.operands:
                if v in carried:
                    return None
                op = v.op if isinstance(v, OpResult) else None
                if op is None or op.parent is not body or op in wanted:
                    continue
                if any(_effectful(o) for o in op.walk()):
                    return None
                wanted.add(op)
                work.append(op)
    return [op for op in body.ops if op in wanted]


def _effectful(op: Operation) -> bool:
    return op.has_trait(HasSideEffects) or any(v.type.is_token for v in op.operands)


FissionPlan = tuple[int, list[ToolCallOp], list[Operation], list[Value]]
"""Where the loop's tab is carried, its page chain, the ops that move, and the used output."""


def fission_plan(loop: ForOp) -> FissionPlan | None:
    """What `split_loop` would move, or None when the loop does not qualify. Changes nothing,
    so a caller can decide before paying for a snapshot of the loop."""
    tabs = [i for i, v in enumerate(loop.init) if isinstance(v.type, TabToken)]
    if len(tabs) != 1 or any(v.type.is_token for i, v in enumerate(loop.init) if i != tabs[0]):
        return None
    body, index = loop.body.block, tabs[0]
    carried = {a for i, a in enumerate(body.args[1:]) if i != index}
    if not carried:
        return None  # nothing carried but the tab: parallelize the loop itself
    chain = page_chain(body, body.args[1 + index], yielded_values(body)[index])
    ops = backward_slice(body, chain, carried) if chain else None
    if not ops:
        return None
    exports = [c.output for c in chain if any(u.op not in ops for u in c.output.uses)]
    if len(exports) > 1:
        return None
    return index, chain, ops, exports


def split_loop(loop: ForOp, plan: FissionPlan) -> ForOp:
    """Split the page work `plan` names off `loop` into a new loop before it (see the module
    docstring); returns the new loop."""
    index, chain, ops, exports = plan
    page_loop = _build_page_loop(loop, index, ops, exports)
    _drop_page_work(loop, chain, exports, page_loop)
    return page_loop


def _build_page_loop(loop: ForOp, index: int, ops: list, exports: list[Value]) -> ForOp:
    body = loop.body.block
    block = Block([body.args[0].type, TabToken()], [body.args[0].name_hint, "tab"])
    mapping: dict[Value, Value] = {
        body.args[0]: block.args[0],
        body.args[1 + index]: block.args[1],
    }
    for op in ops:
        block.append(clone_op(op, mapping))
    tab_end = mapping[yielded_values(body)[index]]
    out = [mapping[e] for e in exports]
    block.append(YieldOp([tab_end, *out], [], loc=loop.loc))
    types = [TabToken(), *(ListType(e.type) for e in exports)]
    page_loop = ForOp(
        [loop.iterable, loop.init[index]],
        types,
        {"collect": bool(exports), "filter": False},
        [Region([block])],
        loc=loop.loc,
    )
    loop.parent.insert_before(page_loop, loop)
    loop.set_operand(1 + index, page_loop.results[0])
    return page_loop


def _drop_page_work(
    loop: ForOp, chain: list[ToolCallOp], exports: list[Value], page_loop: ForOp
) -> None:
    """Remove the chain from the original loop; its one used output becomes outs[i]."""
    body = loop.body.block
    if exports:
        counter = _add_counter(loop)
        read = GetItemOp([page_loop.results[1], counter], [exports[0].type], loc=loop.loc)
        body.insert_before(read, body.ops[0])
        exports[0].replace_all_uses_with(read.results[0])
    for call in reversed(chain):
        call.token_results[0].replace_all_uses_with(call.token_operands[0])
        call.erase()


def _add_counter(loop: ForOp) -> Value:
    """Carry an iteration counter (0, 1, ...) through `loop`; return its value in the body."""
    zero = ConstantOp([], [INT], {"value": 0}, loc=loop.loc)
    one = ConstantOp([], [INT], {"value": 1}, loc=loop.loc)
    loop.parent.insert_before(zero, loop)
    loop.parent.insert_before(one, loop)
    body = loop.body.block
    counter = body.add_arg(INT, "i")
    step = BINARY_OPS["+"]([counter, one.results[0]], [INT], loc=loop.loc)
    body.insert_before(step, body.terminator)
    n = len(loop.init)
    term = body.terminator
    values = list(term.operands)
    term.set_operands([*values[:n], step.results[0], *values[n:]])
    loop.set_operands([*loop.operands, zero.results[0]])
    loop.results.insert(n, OpResult(INT, loop, n, "count"))
    for i, r in enumerate(loop.results):
        r.index = i
    return counter


__all__ = ["FissionPlan", "fission_plan", "split_loop"]
