"""IR -> `FlatPlan`: the timed ops of a function, unrolled, as arrays the simulator samples.

What takes time: `tool.call`, `llm.call`, `tab.open` and `tab.close`. Pure ops take none; a node
waits for the timed ops its operands (transitively) come from, its *frontier*. Loops are
unrolled up to a cap on the trip count (iterations past the sampled count do not run); `if`
branches both become nodes under complementary guards; a hedgeable tab's chain is emitted once
per possible copy, copies after the first guarded by the strategy's hedge k, and joined by a
node that waits for the first copy to finish. Trip counts come from the program where it says
(`range(8)`, `min(8, len(xs))`, a loop over a comprehension's result) and from the cost model
otherwise (measured list lengths and trip counts, or the prior).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from agentjit.cost.builder import BROWSER, LLM, PlanBuilder
from agentjit.cost.distributions import Distribution
from agentjit.cost.lengths import Length, LengthOracle
from agentjit.cost.model import CostModel
from agentjit.cost.plan import (
    IN_SPAN,
    FlatPlan,
    GuardKind,
    NodeInfo,
    ResourceRole,
)
from agentjit.cost.profile import op_key
from agentjit.cost.template import Template
from agentjit.ir import FuncOp, ModuleOp, Operation
from agentjit.ir.block import Block
from agentjit.ir.ops import ForOp, IfOp, LlmCallOp, TabCloseOp, TabOpenOp, ToolCallOp
from agentjit.ir.value import Value

JOIN_WIDTH = 8
"""A frontier wider than this gets a zero-time join node, so edges stay linear in plan size."""
PROMPT_TOKENS_PER_ARG = 32
"""A guess at a filled-in variable's size; the template's own text counts at 4 chars a token."""

TIMED_OPS = (ToolCallOp, LlmCallOp, TabOpenOp, TabCloseOp)

Frontier = frozenset[int]


@dataclass(frozen=True)
class Scope:
    """Where the walk is: the guard ops run under, their lane, and the loop pool if any."""

    guard: int = -1
    lane: str = "tab 0"
    pool: int = -1
    hedge_copy: int = -1


TOP = Scope()
"""The function's own block: no guard, its own tab, no pool."""


class Flattener:
    """Walks one function and accumulates the plan's arrays."""

    def __init__(
        self, model: CostModel, *, llm_limit: int, table_size: int, max_unroll: int, hedge: int
    ) -> None:
        self.model = model
        self.max_unroll = max_unroll
        self.hedge_max = hedge
        self.out = PlanBuilder(table_size=table_size, llm_limit=llm_limit)
        """The plan being built: nodes, guards, events, tab pools, distributions."""
        self.env: dict[Value, Frontier] = {}
        self.tab_opener: dict[Value, int] = {}
        self.func_name = ""
        self.lengths = LengthOracle(model)
        self.use_templates = True
        self._timed: dict[Operation, bool] = {}
        self._primitives: dict[str, Distribution] = {}
        self._tool_facts: dict[Operation, tuple] = {}

    # --- entry ---------------------------------------------------------------------------

    def run(self, func: FuncOp) -> FlatPlan:
        self.func_name = func.sym_name
        for arg in func.body.block.args:
            self.env[arg] = frozenset()
        self.walk(func.body.block, TOP)
        return self.finish()

    def walk(self, block: Block, scope: Scope) -> None:
        ops = block.ops
        i = 0
        while i < len(ops):
            op = ops[i]
            if isinstance(op, TabOpenOp) and op.hedgeable and self.hedge_max > 1:
                i = self.hedged_chain(ops, i, scope)
                continue
            self.visit(op, scope)
            i += 1

    def visit(self, op: Operation, scope: Scope) -> None:
        if isinstance(op, ToolCallOp):
            self.tool_call(op, scope)
        elif isinstance(op, LlmCallOp):
            self.llm_call(op, scope)
        elif isinstance(op, TabOpenOp):
            self.tab_open(op, scope)
        elif isinstance(op, TabCloseOp):
            self.tab_close(op, scope)
        elif isinstance(op, ForOp) and self.timed(op):
            self.loop(op, scope)
        elif isinstance(op, IfOp) and self.timed(op):
            self.branch(op, scope)
        else:
            if isinstance(op, ForOp):
                self.lengths.pure_loop(op)
            self.lengths.note(op)
            frontier = self.frontier(op.operands)
            for r in op.results:
                self.env[r] = frontier

    def primitive(self, name: str) -> Distribution:
        if name not in self._primitives:
            self._primitives[name] = self.model.primitive_latency(name)
        return self._primitives[name]

    def timed(self, op: Operation) -> bool:
        """Whether anything inside `op` takes time (else it is as cheap as a pure op)."""
        if op not in self._timed:
            self._timed[op] = any(isinstance(o, TIMED_OPS) for o in op.walk())
        return self._timed[op]

    # --- timed ops -------------------------------------------------------------------------

    def tool_call(self, op: ToolCallOp, scope: Scope) -> None:
        # An unrolled op is visited once per iteration and copy: look its facts up once.
        if op not in self._tool_facts:
            effects = op.declared_effects
            dist = self.model.tool_latency(op.tool, effects)
            holds = [(BROWSER, ResourceRole.USE, -1)] if effects.touches_tab else []
            tokens = list(zip(op.token_operands, op.token_results, strict=False))
            label = op.tool.rpartition(".")[2]
            self._tool_facts[op] = (dist, holds, label, op.operands, op.results, tokens)
        dist, holds, label, operands, results, tokens = self._tool_facts[op]
        info = NodeInfo(label, self.lane(op, scope))
        node = self.node(self.frontier(operands), dist, scope, holds, info)
        for r in results:
            self.env[r] = frozenset({node})
        for token_in, token_out in tokens:
            if token_in in self.tab_opener:
                self.tab_opener[token_out] = self.tab_opener[token_in]
        self.lengths.note(op)

    def llm_call(self, op: LlmCallOp, scope: Scope) -> None:
        prompt = len(op.template) // 4 + PROMPT_TOKENS_PER_ARG * len(op.args)
        dist = self.model.llm_latency(op.model, prompt)
        holds = [(LLM, ResourceRole.USE, -1)]
        node = self.node(self.frontier(op.operands), dist, scope, holds, NodeInfo("llm", "llm"))
        self.env[op.out] = frozenset({node})

    def tab_open(self, op: TabOpenOp, scope: Scope) -> None:
        holds = []
        if scope.pool >= 0 and scope.hedge_copy <= 0:
            holds = [(scope.pool, ResourceRole.ACQUIRE, -1)]
        info = NodeInfo("open", self.lane(op, scope))
        dist = self.primitive("tab.open")
        node = self.node(self.frontier([op.source]), dist, scope, holds, info)
        self.env[op.source_out] = self.env.get(op.source, frozenset())
        self.env[op.opened] = frozenset({node})
        self.tab_opener[op.opened] = node
        self.out.max_tabs = max(self.out.max_tabs, op.tab + 1)

    def tab_close(self, op: TabCloseOp, scope: Scope) -> int:
        holds = []
        opener = self.tab_opener.get(op.closed, -1)
        if scope.pool >= 0 and scope.hedge_copy < 0 and opener >= 0:
            holds = [(scope.pool, ResourceRole.RELEASE, opener)]
        info = NodeInfo("close", self.lane(op, scope))
        dist = self.primitive("tab.close")
        return self.node(self.frontier([op.closed]), dist, scope, holds, info)

    # --- structure -------------------------------------------------------------------------

    def loop(self, op: ForOp, scope: Scope) -> None:
        key = self.key(op)
        event, unroll = self.trip_event(op, key, scope)
        inner = scope
        if op.max_tabs is not None:
            hedged = any(isinstance(o, TabOpenOp) and o.hedgeable for o in op.body.block.ops)
            hedged = hedged and self.hedge_max > 1
            pool = self.out.pool(op.max_tabs, hedged)
            inner = replace(scope, pool=pool)
        body = op.body.block
        carried = [self.env.get(v, frozenset()) for v in op.init]
        whole = self.env.get(op.iterable, frozenset())
        collected: set[int] = set()
        template: Template | None = None
        for i in range(unroll):
            if template is not None:
                collected |= template.stamp(i, unroll, event, scope.guard)
                break
            guard = inner.guard
            if event >= 0:
                guard = self.out.guard(GuardKind.ITERATION, event, i, parent=scope.guard)
            it_scope = replace(inner, guard=guard, lane=f"{inner.lane} #{i}")
            self.env[body.args[0]] = whole
            for arg, frontier in zip(body.args[1:], carried, strict=True):
                self.env[arg] = frontier
            mark = Template.start(self.out, guard, inner.lane.count(" #"))
            self.walk(body, it_scope)
            yielded = [self.env.get(v, frozenset()) for v in body.terminator.operands]
            if i == 0 and self.use_templates and yielded[: len(op.init)] == carried:
                # Every iteration starts from the same frontiers: the rest are copies of this
                # one with indices shifted (the same arrays a walk would give, without it).
                template = mark.finish(yielded[len(op.init) :])
            carried = yielded[: len(op.init)]
            for frontier in yielded[len(op.init) :]:
                collected |= frontier
        for result, frontier in zip(op.carried_results, carried, strict=False):
            self.env[result] = frontier
        if op.collect:
            self.env[op.collected] = self.joined(frozenset(collected) | whole, scope)
            self.lengths.collected(op, event, unroll)

    def trip_event(self, op: ForOp, key: str, scope: Scope) -> tuple[int, int]:
        """The loop's trip-count event (-1 when the count is a known constant) and how many
        iterations to unroll."""
        length: Length = self.lengths.of(op.iterable)
        if length.constant is not None:
            return -1, min(length.constant, self.max_unroll)
        if length.event >= 0:
            cap = min(length.cap, self.max_unroll)
            return self.out.same_trips(length.event, cap), cap
        dist = self.model.trip_count(key, prior=length.dist)
        cap = min(length.cap, self.max_unroll, _upper(dist))
        return self.out.trips(dist, cap), cap

    def branch(self, op: IfOp, scope: Scope) -> None:
        p = self.model.branch_probability(self.key(op))
        coin = self.out.coin(p)
        yields = []
        for index, kind in ((0, GuardKind.THEN), (1, GuardKind.ELSE)):
            block = op.regions[index].block
            for arg, token in zip(block.args, op.tokens, strict=True):
                self.env[arg] = self.env.get(token, frozenset())
                if token in self.tab_opener:
                    self.tab_opener[arg] = self.tab_opener[token]
            guard = self.out.guard(kind, coin, 0, parent=scope.guard)
            self.walk(block, replace(scope, guard=guard))
            yields.append([self.env.get(v, frozenset()) for v in block.terminator.operands])
        for k, result in enumerate(op.results):
            self.env[result] = self.joined(yields[0][k] | yields[1][k], scope)

    def hedged_chain(self, ops: list[Operation], i: int, scope: Scope) -> int:
        """Emit the chain of the hedgeable tab opened by `ops[i]` once per copy; returns the
        index after its `tab.close`."""
        from agentjit.cost.hedge import emit_hedged_chain

        return emit_hedged_chain(self, ops, i, scope)

    # --- building blocks -------------------------------------------------------------------

    def node(
        self,
        frontier: Iterable[int],
        dist: Distribution | None,
        scope: Scope,
        holds: list[tuple[int, int, int]],
        info: NodeInfo,
        flags: int = IN_SPAN,
    ) -> int:
        flags = flags if scope.hedge_copy < 0 else flags & ~IN_SPAN
        return self.out.node(frontier, dist, guard=scope.guard, flags=flags, holds=holds, info=info)

    def joined(self, frontier: Frontier, scope: Scope) -> Frontier:
        if len(frontier) <= JOIN_WIDTH:
            return frontier
        join = self.node(frontier, None, Scope(hedge_copy=scope.hedge_copy), [], NodeInfo("", ""))
        return frozenset({join})

    def frontier(self, values: Iterable[Value]) -> Frontier:
        found: set[int] = set()
        for v in values:
            found |= self.env.get(v, frozenset())
        return self.joined(frozenset(found), TOP)

    def key(self, op: Operation) -> str:
        return op_key(self.func_name, op)

    def lane(self, op: Operation, scope: Scope) -> str:
        tab = op.attributes.get("tab")
        if tab is None or tab == 0:
            return scope.lane
        _, mark, iterations = scope.lane.partition(" #")
        return f"tab {tab}{mark}{iterations}"

    def finish(self) -> FlatPlan:
        return self.out.build()


def _upper(dist: Distribution) -> int:
    """How many iterations to unroll for a trip-count distribution: its 99th percentile (a
    sample that draws more runs this many; the bias is bounded by the 1% tail)."""
    top = dist.quantile(0.99)
    return max(1, math.floor(top + 0.5))


def entry_function(module: ModuleOp) -> FuncOp:
    """The function a plan runs: `main`, else the last one."""
    funcs = module.functions
    if not funcs:
        raise ValueError("the module has no functions")
    return module.function("main") or funcs[-1]


def flatten(
    func: FuncOp | ModuleOp,
    model: CostModel | None = None,
    *,
    llm_limit: int = 1,
    table_size: int = 1024,
    max_unroll: int = 32,
    hedge: int | None = None,
) -> FlatPlan:
    """The simulator's view of `func` (or of a module's entry function). `hedge` is the most
    copies any strategy will ask of a hedgeable chain (default: the plan's tab count)."""
    if isinstance(func, ModuleOp):
        func = entry_function(func)
    if llm_limit < 1:
        raise ValueError(f"llm_limit must be at least 1, not {llm_limit}")
    flattener = Flattener(
        model or CostModel(),
        llm_limit=llm_limit,
        table_size=table_size,
        max_unroll=max_unroll,
        hedge=hedge if hedge is not None else _tab_count(func),
    )
    return flattener.run(func)


def _tab_count(func: FuncOp) -> int:
    best = 1
    for op in func.walk():
        if isinstance(op, ForOp) and op.max_tabs is not None:
            best = max(best, op.max_tabs)
        elif isinstance(op, TabOpenOp):
            best = max(best, op.tab + 1)
    return best
