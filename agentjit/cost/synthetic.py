"""Synthetic `FlatPlan`s for tests and benchmarks, built straight from arrays (no IR).

`random_dag_plan` makes a random DAG of log-normal nodes, the simulator's bread-and-butter
workload, of any size. `PlanBuilder` assembles small hand-made plans node by node (guards,
events, resources and all), and `chain_plan`/`fork_join_plan` are the two shapes whose
makespan is obvious by hand. Resource 0 is always the browser and 1 the LLM endpoint, as in
plans from `flatten`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from agentjit.cost.distributions import Distribution, constant, lognormal
from agentjit.cost.plan import (
    IN_SPAN,
    EventKind,
    FlatPlan,
    NodeInfo,
    ResourceKind,
    ResourceRole,
)

BROWSER, LLM = 0, 1

Hold = tuple[int, int, int]
"""(resource, role, partner node) of one resource a node uses, acquires or releases."""


def _i64(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _ptr(lengths: Sequence[int]) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(lengths, dtype=np.int64))).astype(np.int64)


@dataclass
class PlanBuilder:
    """Accumulates a plan node by node; `build()` returns the checked `FlatPlan`."""

    table_size: int = 1024
    max_tabs: int = 1
    llm_limit: int = 1
    hedge_units: int = 0
    preds: list[list[int]] = field(default_factory=list)
    node_dist: list[int] = field(default_factory=list)
    node_guard: list[int] = field(default_factory=list)
    node_flags: list[int] = field(default_factory=list)
    holds: list[list[Hold]] = field(default_factory=list)
    guards: list[tuple[int, int, int, int]] = field(default_factory=list)
    events: list[tuple[int, int, float, int, int]] = field(default_factory=list)
    resources: list[tuple[int, int, bool]] = field(
        default_factory=lambda: [(ResourceKind.BROWSER, 0, False), (ResourceKind.LLM, 0, False)]
    )
    dists: list[Distribution] = field(default_factory=list)

    def dist(self, dist: Distribution) -> int:
        """The row of `dist` in the plan's tables (added when new)."""
        if dist not in self.dists:
            self.dists.append(dist)
        return self.dists.index(dist)

    def node(
        self,
        preds: Sequence[int] = (),
        dist: Distribution | float | None = None,
        *,
        guard: int = -1,
        flags: int = IN_SPAN,
        holds: Sequence[Hold] = (),
    ) -> int:
        """A node after `preds` taking `dist` (a number: that constant; None: no time)."""
        if isinstance(dist, int | float):
            dist = constant(dist)
        self.preds.append(sorted(preds))
        self.node_dist.append(-1 if dist is None else self.dist(dist))
        self.node_guard.append(guard)
        self.node_flags.append(flags)
        self.holds.append(list(holds))
        return len(self.node_dist) - 1

    def guard(self, kind: int, event: int = -1, index: int = 0, parent: int = -1) -> int:
        self.guards.append((parent, int(kind), event, index))
        return len(self.guards) - 1

    def trips(self, dist: Distribution | float, cap: int) -> int:
        """A trip-count event drawn from `dist` (a number: that constant), at most `cap`."""
        if isinstance(dist, int | float):
            dist = constant(dist)
        self.events.append((EventKind.TRIPS, self.dist(dist), 0.0, cap, -1))
        return len(self.events) - 1

    def same_trips(self, event: int, cap: int) -> int:
        """A trip count equal to `event`'s, at most `cap`."""
        self.events.append((EventKind.TRIPS, -1, 0.0, cap, event))
        return len(self.events) - 1

    def coin(self, prob: float) -> int:
        self.events.append((EventKind.COIN, -1, prob, 1, -1))
        return len(self.events) - 1

    def pool(self, max_tabs: int, hedged: bool = False) -> int:
        """A parallel loop's tab pool of `max_tabs` slots."""
        self.resources.append((ResourceKind.LOOP_POOL, max_tabs, hedged))
        self.max_tabs = max(self.max_tabs, max_tabs)
        return len(self.resources) - 1

    def build(self) -> FlatPlan:
        flat_holds = [h for hs in self.holds for h in hs]
        tables = np.stack([d.quantile_table(self.table_size) for d in self.dists])
        g, ev, res = self.guards, self.events, self.resources
        plan = FlatPlan(
            pred_ptr=_ptr([len(p) for p in self.preds]),
            pred_idx=_i64([p for ps in self.preds for p in ps]),
            node_dist=_i64(self.node_dist),
            node_guard=_i64(self.node_guard),
            node_flags=_i64(self.node_flags),
            res_ptr=_ptr([len(h) for h in self.holds]),
            res_id=_i64([h[0] for h in flat_holds]),
            res_role=_i64([h[1] for h in flat_holds]),
            res_partner=_i64([h[2] for h in flat_holds]),
            g_parent=_i64([x[0] for x in g]),
            g_kind=_i64([x[1] for x in g]),
            g_event=_i64([x[2] for x in g]),
            g_index=_i64([x[3] for x in g]),
            ev_kind=_i64([x[0] for x in ev]),
            ev_dist=_i64([x[1] for x in ev]),
            ev_prob=np.asarray([x[2] for x in ev], dtype=np.float64),
            ev_cap=_i64([x[3] for x in ev]),
            ev_alias=_i64([x[4] for x in ev]),
            resource_kinds=_i64([r[0] for r in res]),
            resource_max=_i64([r[1] for r in res]),
            resource_hedged=np.asarray([r[2] for r in res], dtype=np.bool_),
            dists=list(self.dists),
            tables=tables,
            info=[NodeInfo(f"n{v}", "tab 0", v) for v in range(len(self.node_dist))],
            llm_limit=self.llm_limit,
            max_tabs=self.max_tabs,
            hedge_units=self.hedge_units,
        )
        plan.check()
        return plan


def random_dag_plan(
    n_nodes: int,
    *,
    edges_per_node: int = 2,
    n_dists: int = 10,
    sigma: float = 0.5,
    seed: int = 0,
    table_size: int = 1024,
    browser: bool = False,
    max_tabs: int = 4,
) -> FlatPlan:
    """A random DAG in topological order: node v waits for up to `edges_per_node` distinct
    earlier nodes, takes one of `n_dists` log-normals (medians 0.05..1 s), and counts toward
    the makespan. With `browser`, every node uses a browser slot, so a strategy with w tabs runs
    at most w nodes at once; `max_tabs` bounds the strategies the plan offers."""
    if n_nodes < 1:
        raise ValueError(f"a plan needs at least one node, not {n_nodes}")
    rng = np.random.default_rng(seed)
    dists = [lognormal(float(m), sigma) for m in rng.uniform(0.05, 1.0, n_dists)]
    preds = [
        np.sort(rng.choice(v, size=min(v, edges_per_node), replace=False)) for v in range(n_nodes)
    ]
    plan = FlatPlan(
        pred_ptr=_ptr([len(p) for p in preds]),
        pred_idx=np.concatenate(preds).astype(np.int64),
        node_dist=rng.integers(0, n_dists, n_nodes).astype(np.int64),
        node_guard=np.full(n_nodes, -1, dtype=np.int64),
        node_flags=np.full(n_nodes, IN_SPAN, dtype=np.int64),
        **_browser_uses(n_nodes if browser else 0, n_nodes),
        **_no_guards_or_events(),
        resource_kinds=_i64([ResourceKind.BROWSER, ResourceKind.LLM]),
        resource_max=_i64([0, 0]),
        resource_hedged=np.zeros(2, dtype=np.bool_),
        dists=dists,
        tables=np.stack([d.quantile_table(table_size) for d in dists]),
        info=[NodeInfo(f"n{v}", "tab 0", v) for v in range(n_nodes)],
        max_tabs=max_tabs if browser else 1,
    )
    plan.check()
    return plan


def _browser_uses(users: int, n_nodes: int) -> dict[str, np.ndarray]:
    """Resource columns where the first `users` nodes each use one browser slot."""
    counts = np.zeros(n_nodes, dtype=np.int64)
    counts[:users] = 1
    return {
        "res_ptr": _ptr(counts),
        "res_id": np.full(users, BROWSER, dtype=np.int64),
        "res_role": np.full(users, ResourceRole.USE, dtype=np.int64),
        "res_partner": np.full(users, -1, dtype=np.int64),
    }


def _no_guards_or_events() -> dict[str, np.ndarray]:
    names = ("g_parent", "g_kind", "g_event", "g_index", "ev_kind", "ev_dist", "ev_cap")
    empty = {name: np.zeros(0, dtype=np.int64) for name in (*names, "ev_alias")}
    return {**empty, "ev_prob": np.zeros(0, dtype=np.float64)}


def chain_plan(durations: Sequence[float], *, browser: bool = False) -> FlatPlan:
    """Constant-duration nodes one after another: the makespan is their sum."""
    b = PlanBuilder()
    holds = [(BROWSER, ResourceRole.USE, -1)] if browser else []
    last: list[int] = []
    for d in durations:
        last = [b.node(last, d, holds=holds)]
    return b.build()


def fork_join_plan(
    head: float, branches: Sequence[float], tail: float, *, browser: bool = False, max_tabs: int = 4
) -> FlatPlan:
    """`head`, then `branches` side by side, then `tail` after all of them (constants). Without
    a browser the makespan is head + max(branches) + tail; with it, branches compete for the w
    browser slots."""
    b = PlanBuilder(max_tabs=max_tabs)
    holds = [(BROWSER, ResourceRole.USE, -1)] if browser else []
    first = b.node((), head)
    middle = [b.node([first], d, holds=holds) for d in branches]
    b.node(middle, tail)
    return b.build()
