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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agentjit.cost.distributions import Distribution
from agentjit.cost.lengths import Length, LengthOracle
from agentjit.cost.model import CostModel
from agentjit.cost.plan import (
    IN_SPAN,
    EventKind,
    FlatPlan,
    GuardKind,
    NodeInfo,
    ResourceKind,
    ResourceRole,
)
from agentjit.cost.template import Template
from agentjit.ir import FuncOp, ModuleOp, Operation
from agentjit.ir.block import Block
from agentjit.ir.ops import ForOp, IfOp, LlmCallOp, TabCloseOp, TabOpenOp, ToolCallOp
from agentjit.ir.value import Value

BROWSER, LLM = 0, 1
JOIN_WIDTH = 8
"""A frontier wider than this gets a zero-time join node, so edges stay linear in plan size."""
PROMPT_TOKENS_PER_ARG = 32
"""A guess at a filled-in variable's size; the template's own text counts at 4 chars a token."""

TIMED_OPS = (ToolCallOp, LlmCallOp, TabOpenOp, TabCloseOp)
EVENT_COLUMNS = ("kind", "dist", "prob", "cap", "alias")

Frontier = frozenset[int]


@dataclass
class Scope:
    """Where the walk is: the guard ops run under, their lane, and the loop pool if any."""

    guard: int = -1
    lane: str = "tab 0"
    pool: int = -1
    hedge_copy: int = -1


@dataclass
class _Nodes:
    preds: list[list[int]] = field(default_factory=list)
    dist: list[int] = field(default_factory=list)
    guard: list[int] = field(default_factory=list)
    flags: list[int] = field(default_factory=list)
    holds: list[list[tuple[int, int, int]]] = field(default_factory=list)
    info: list[NodeInfo] = field(default_factory=list)


class Flattener:
    """Walks one function and accumulates the plan's arrays."""

    def __init__(
        self, model: CostModel, *, llm_limit: int, table_size: int, max_unroll: int, hedge: int
    ) -> None:
        self.model = model
        self.llm_limit = llm_limit
        self.table_size = table_size
        self.max_unroll = max_unroll
        self.hedge_max = hedge
        self.nodes = _Nodes()
        self.guards: list[tuple[int, int, int, int]] = []
        self.events: list[tuple[int, int, float, int, int]] = []
        self.resources: list[tuple[int, int, bool]] = [(ResourceKind.BROWSER, 0, False)]
        self.resources.append((ResourceKind.LLM, 0, False))
        self.dists: list[Distribution] = []
        self._dist_index: dict[Distribution, int] = {}
        self._dist_ids: dict[int, int] = {}
        self.env: dict[Value, Frontier] = {}
        self.tab_opener: dict[Value, int] = {}
        self.max_tabs = 1
        self.hedge_units = 0
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
        self.walk(func.body.block, Scope())
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
        self.max_tabs = max(self.max_tabs, op.tab + 1)

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
            self.resources.append((ResourceKind.LOOP_POOL, op.max_tabs, hedged))
            self.max_tabs = max(self.max_tabs, op.max_tabs)
            inner = Scope(scope.guard, scope.lane, len(self.resources) - 1, scope.hedge_copy)
        body = op.body.block
        carried = [self.env.get(v, frozenset()) for v in op.init]
        whole = self.env.get(op.iterable, frozenset())
        collected: set[int] = set()
        template: Template | None = None
        for i in range(unroll):
            guard = inner.guard if event < 0 else self.guard(GuardKind.ITERATION, event, i, scope)
            if template is not None:
                collected |= template.instantiate(i, guard)
                continue
            it_scope = Scope(guard, f"{inner.lane} #{i}", inner.pool, inner.hedge_copy)
            self.env[body.args[0]] = whole
            for arg, frontier in zip(body.args[1:], carried, strict=True):
                self.env[arg] = frontier
            mark = Template.start(self, guard, inner.lane.count(" #"))
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
            return self.event(EventKind.TRIPS, -1, 0.0, cap, length.event), cap
        dist = self.model.trip_count(key, prior=length.dist)
        cap = min(length.cap, self.max_unroll, _upper(dist))
        return self.event(EventKind.TRIPS, self.dist(dist), 0.0, cap, -1), cap

    def branch(self, op: IfOp, scope: Scope) -> None:
        p = self.model.branch_probability(self.key(op))
        coin = self.event(EventKind.COIN, -1, p, 1, -1)
        yields = []
        for index, kind in ((0, GuardKind.THEN), (1, GuardKind.ELSE)):
            block = op.regions[index].block
            for arg, token in zip(block.args, op.tokens, strict=True):
                self.env[arg] = self.env.get(token, frozenset())
                if token in self.tab_opener:
                    self.tab_opener[arg] = self.tab_opener[token]
            guard = self.guard(kind, coin, 0, scope)
            self.walk(block, Scope(guard, scope.lane, scope.pool, scope.hedge_copy))
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
        n = self.nodes
        n.preds.append(sorted(frontier))
        n.dist.append(self.dist(dist) if dist is not None else -1)
        n.guard.append(scope.guard)
        n.flags.append(flags if scope.hedge_copy < 0 else flags & ~IN_SPAN)
        n.holds.append(holds)
        n.info.append(info)
        return len(n.dist) - 1

    def joined(self, frontier: Frontier, scope: Scope) -> Frontier:
        if len(frontier) <= JOIN_WIDTH:
            return frontier
        join = self.node(frontier, None, Scope(hedge_copy=scope.hedge_copy), [], NodeInfo("", ""))
        return frozenset({join})

    def frontier(self, values: Iterable[Value]) -> Frontier:
        found: set[int] = set()
        for v in values:
            found |= self.env.get(v, frozenset())
        return self.joined(frozenset(found), Scope())

    def dist(self, dist: Distribution) -> int:
        index = self._dist_ids.get(id(dist))
        if index is not None and self.dists[index] is dist:
            return index
        if dist not in self._dist_index:
            self._dist_index[dist] = len(self.dists)
            self.dists.append(dist)
        self._dist_ids[id(dist)] = self._dist_index[dist]
        return self._dist_index[dist]

    def guard(self, kind: int, event: int, index: int, scope: Scope) -> int:
        self.guards.append((scope.guard, kind, event, index))
        return len(self.guards) - 1

    def event(self, kind: int, dist: int, prob: float, cap: int, alias: int) -> int:
        self.events.append((kind, dist, prob, cap, alias))
        return len(self.events) - 1

    def key(self, op: Operation) -> str:
        loc = op.loc
        return f"{self.func_name}@{Path(loc.file).name}:{loc.line}:{loc.col}"

    def lane(self, op: Operation, scope: Scope) -> str:
        tab = op.attributes.get("tab")
        if tab is None or tab == 0:
            return scope.lane
        return f"tab {tab}" + scope.lane.partition(" #")[1] + scope.lane.partition(" #")[2]

    # --- arrays ----------------------------------------------------------------------------

    def finish(self) -> FlatPlan:
        n = self.nodes
        i64 = np.int64
        holds = [h for hs in n.holds for h in hs]
        plan = FlatPlan(
            pred_ptr=_ptr(n.preds),
            pred_idx=np.array([p for ps in n.preds for p in ps], dtype=i64),
            node_dist=np.array(n.dist, dtype=i64),
            node_guard=np.array(n.guard, dtype=i64),
            node_flags=np.array(n.flags, dtype=i64),
            res_ptr=_ptr(n.holds),
            res_id=np.array([h[0] for h in holds], dtype=i64),
            res_role=np.array([h[1] for h in holds], dtype=i64),
            res_partner=np.array([h[2] for h in holds], dtype=i64),
            **_columns("g", ("parent", "kind", "event", "index"), self.guards, [i64] * 4),
            **_columns("ev", EVENT_COLUMNS, self.events, [i64, i64, float, i64, i64]),
            resource_kinds=np.array([r[0] for r in self.resources], dtype=i64),
            resource_max=np.array([r[1] for r in self.resources], dtype=i64),
            resource_hedged=np.array([r[2] for r in self.resources], dtype=np.bool_),
            dists=self.dists,
            tables=_tables(self.dists, self.table_size),
            info=n.info,
            llm_limit=self.llm_limit,
            max_tabs=self.max_tabs,
            hedge_units=self.hedge_units,
        )
        plan.check()
        return plan


def _ptr(lists: list[list]) -> np.ndarray:
    return np.concatenate(([0], np.cumsum([len(x) for x in lists], dtype=np.int64))).astype(
        np.int64
    )


def _columns(prefix: str, names: tuple[str, ...], rows: list[tuple], dtypes: list) -> dict:
    return {
        f"{prefix}_{name}": np.array([row[k] for row in rows], dtype=dtypes[k])
        for k, name in enumerate(names)
    }


def _tables(dists: list[Distribution], k: int) -> np.ndarray:
    if not dists:
        return np.zeros((0, k))
    return np.stack([d.quantile_table(k) for d in dists])


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
