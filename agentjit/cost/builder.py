"""Assemble a `FlatPlan` node by node: the one place that turns lists into the plan's arrays.

`flatten` uses it for plans read from IR, and `synthetic.py` for hand-made plans in tests.
Resource 0 is always the browser and 1 the LLM endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from agentjit.cost.distributions import Distribution, constant
from agentjit.cost.plan import IN_SPAN, EventKind, FlatPlan, NodeInfo, ResourceKind

BROWSER, LLM = 0, 1

Hold = tuple[int, int, int]
"""(resource, role, partner node) of one resource a node uses, acquires or releases."""


def i64(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def offsets(lengths: Sequence[int]) -> np.ndarray:
    """CSR row offsets from row lengths."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, dtype=np.int64, out=out[1:])
    return out


@dataclass
class PlanBuilder:
    """Accumulates a plan node by node; `build()` returns the checked `FlatPlan`."""

    table_size: int = 1024
    max_tabs: int = 1
    llm_limit: int = 1
    hedge_units: int = 0
    pred_idx: list[int] = field(default_factory=list)
    """Every node's predecessors, flat, sorted within a node."""
    pred_ptr: list[int] = field(default_factory=list)
    """Where each node's predecessors start in `pred_idx`."""
    node_dist: list[int] = field(default_factory=list)
    node_guard: list[int] = field(default_factory=list)
    node_flags: list[int] = field(default_factory=list)
    hold_res: list[int] = field(default_factory=list)
    hold_role: list[int] = field(default_factory=list)
    hold_partner: list[int] = field(default_factory=list)
    """The resources nodes hold, flat (a `Hold` split into its three columns)."""
    hold_ptr: list[int] = field(default_factory=list)
    """Where each node's holds start in the `hold_*` columns."""
    info: list[NodeInfo | None] = field(default_factory=list)
    info_parts: list[tuple[str, str] | None] = field(default_factory=list)
    info_mark: list[int] = field(default_factory=list)
    """Per node: its info, or for a loop iteration's copy the info of the node in iteration 0
    it copies, with that lane split around the iteration mark and the copy's iteration (see
    `NodeInfos`)."""
    guards: list[tuple[int, int, int, int]] = field(default_factory=list)
    events: list[tuple[int, int, float, int, int]] = field(default_factory=list)
    resources: list[tuple[int, int, bool]] = field(
        default_factory=lambda: [(ResourceKind.BROWSER, 0, False), (ResourceKind.LLM, 0, False)]
    )
    dists: list[Distribution] = field(default_factory=list)
    _dist_rows: dict[Distribution, int] = field(default_factory=dict, repr=False)

    def dist(self, dist: Distribution) -> int:
        """The row of `dist` in the plan's tables (added when new)."""
        row = self._dist_rows.get(dist)
        if row is None:
            row = self._dist_rows[dist] = len(self.dists)
            self.dists.append(dist)
        return row

    def node(
        self,
        preds: Sequence[int] = (),
        dist: Distribution | float | None = None,
        *,
        guard: int = -1,
        flags: int = IN_SPAN,
        holds: Sequence[Hold] = (),
        info: NodeInfo | None = None,
    ) -> int:
        """A node after `preds` taking `dist` (a number: that constant; None: no time)."""
        if isinstance(dist, int | float):
            dist = constant(dist)
        self.pred_ptr.append(len(self.pred_idx))
        self.pred_idx.extend(sorted(preds))
        self.node_dist.append(-1 if dist is None else self.dist(dist))
        self.node_guard.append(guard)
        self.node_flags.append(flags)
        self.hold_ptr.append(len(self.hold_res))
        for resource, role, partner in holds:
            self.hold_res.append(resource)
            self.hold_role.append(role)
            self.hold_partner.append(partner)
        self.info.append(info)
        self.info_parts.append(None)
        self.info_mark.append(0)
        return len(self.node_dist) - 1

    @property
    def n_nodes(self) -> int:
        return len(self.node_dist)

    def infos(self, lo: int, hi: int) -> list[NodeInfo | None]:
        """The infos of nodes `lo..hi-1`, copies spelled out."""
        return NodeInfos(self.info[lo:hi], self.info_parts[lo:hi], self.info_mark[lo:hi]).raw()

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
        g_parent, g_kind, g_event, g_index = columns(self.guards, 4)
        ev, res = self.events, self.resources
        plan = FlatPlan(
            pred_ptr=i64([*self.pred_ptr, len(self.pred_idx)]),
            pred_idx=i64(self.pred_idx),
            node_dist=i64(self.node_dist),
            node_guard=i64(self.node_guard),
            node_flags=i64(self.node_flags),
            res_ptr=i64([*self.hold_ptr, len(self.hold_res)]),
            res_id=i64(self.hold_res),
            res_role=i64(self.hold_role),
            res_partner=i64(self.hold_partner),
            g_parent=g_parent,
            g_kind=g_kind,
            g_event=g_event,
            g_index=g_index,
            ev_kind=i64([x[0] for x in ev]),
            ev_dist=i64([x[1] for x in ev]),
            ev_prob=np.asarray([x[2] for x in ev], dtype=np.float64),
            ev_cap=i64([x[3] for x in ev]),
            ev_alias=i64([x[4] for x in ev]),
            resource_kinds=i64([r[0] for r in res]),
            resource_max=i64([r[1] for r in res]),
            resource_hedged=np.asarray([r[2] for r in res], dtype=np.bool_),
            dists=list(self.dists),
            tables=tables(self.dists, self.table_size),
            info=NodeInfos(self.info, self.info_parts, self.info_mark),
            llm_limit=self.llm_limit,
            max_tabs=self.max_tabs,
            hedge_units=self.hedge_units,
        )
        plan.check()
        return plan


class NodeInfos(Sequence[NodeInfo]):
    """A plan's node infos, spelled out on first use: ranking and scheduling never read them,
    and a loop's copies would each need a new lane string (`tab 1 #7`)."""

    def __init__(
        self,
        infos: list[NodeInfo | None],
        parts: list[tuple[str, str] | None],
        marks: list[int],
    ) -> None:
        self._sources = (infos, parts, marks)
        self._items: list[NodeInfo] | None = None

    def raw(self) -> list[NodeInfo | None]:
        """The infos, None for a node given none."""
        infos, parts, marks = self._sources
        return [
            info if split is None else NodeInfo(info.label, f"{split[0]}{mark}{split[1]}")
            for info, split, mark in zip(infos, parts, marks, strict=True)
        ]

    def _all(self) -> list[NodeInfo]:
        if self._items is None:
            raw = self.raw()
            self._items = [i or NodeInfo(f"n{v}", "tab 0", v) for v, i in enumerate(raw)]
        return self._items

    def __getitem__(self, index):  # type: ignore[override]  # int or slice, as a list
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._sources[0])


def columns(rows: Sequence[tuple[int, ...]], width: int) -> list[np.ndarray]:
    """The columns of `rows` (tuples of `width` ints), each a contiguous int64 array."""
    if not rows:
        return [np.zeros(0, dtype=np.int64) for _ in range(width)]
    return [np.fromiter(column, np.int64, len(rows)) for column in zip(*rows, strict=True)]


def tables(dists: Sequence[Distribution], k: int) -> np.ndarray:
    """One row of k quantile atoms per distribution."""
    if not dists:
        return np.zeros((0, k))
    return np.stack([d.quantile_table(k) for d in dists])
