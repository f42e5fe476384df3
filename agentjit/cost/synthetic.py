"""Synthetic `FlatPlan`s for tests and benchmarks, built straight from arrays (no IR).

`random_dag_plan` makes a random DAG of log-normal nodes, the simulator's bread-and-butter
workload, of any size. `PlanBuilder` (from `builder.py`, re-exported here) assembles small
hand-made plans node by node (guards, events, resources and all), and `chain_plan` /
`fork_join_plan` are the two shapes whose makespan is obvious by hand. Resource 0 is always the
browser and 1 the LLM endpoint, as in plans from `flatten`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agentjit.cost.builder import BROWSER, PlanBuilder, i64, offsets, tables
from agentjit.cost.distributions import lognormal
from agentjit.cost.plan import IN_SPAN, FlatPlan, NodeInfo, ResourceKind, ResourceRole

__all__ = ["PlanBuilder", "chain_plan", "fork_join_plan", "random_dag_plan"]


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
        pred_ptr=offsets([len(p) for p in preds]),
        pred_idx=np.concatenate(preds).astype(np.int64),
        node_dist=rng.integers(0, n_dists, n_nodes).astype(np.int64),
        node_guard=np.full(n_nodes, -1, dtype=np.int64),
        node_flags=np.full(n_nodes, IN_SPAN, dtype=np.int64),
        **_browser_uses(n_nodes if browser else 0, n_nodes),
        **_no_guards_or_events(),
        resource_kinds=i64([ResourceKind.BROWSER, ResourceKind.LLM]),
        resource_max=i64([0, 0]),
        resource_hedged=np.zeros(2, dtype=np.bool_),
        dists=dists,
        tables=tables(dists, table_size),
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
        "res_ptr": offsets(counts),
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
