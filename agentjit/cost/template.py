"""Loop iterations as copies: flatten one iteration, then stamp out the rest with shifted
indices instead of walking the body again.

Legal when every iteration starts from the same frontiers (the loop carries nothing that a
timed op changes, as in a parallel loop, whose carried tab token passes through `tab.open`):
then iteration i's nodes, guards, events and tab pools are iteration 0's, with indices inside
iteration 0 shifted, its guard replaced by iteration i's, and `#0` in its lanes renumbered. The
result is exactly the arrays a walk would produce (tested on every example), in a fraction of
the time, which is most of what flattening costs for ranking. The node columns of all the
remaining iterations are computed in one NumPy step; guards, events and pools (a few per
iteration) are copied one iteration at a time, in the order a walk creates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from agentjit.cost.plan import GuardKind

if TYPE_CHECKING:
    from agentjit.cost.builder import PlanBuilder
    from agentjit.cost.flatten import Frontier
    from agentjit.cost.plan import NodeInfo


@dataclass
class Template:
    """Index ranges of what iteration 0 added: nodes, guards (after its own), events, pools."""

    out: PlanBuilder
    guard: int
    depth: int
    nodes: tuple[int, int] = (0, 0)
    guards: tuple[int, int] = (0, 0)
    events: tuple[int, int] = (0, 0)
    resources: tuple[int, int] = (0, 0)
    hedges: int = 0
    collected: tuple[Frontier, ...] = ()
    _preds: Indices = field(default_factory=lambda: Indices.of([], 0, 0))
    _pred_ptr: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Iteration 0's predecessors and where each node's start (relative to its first)."""
    _guards: Indices = field(default_factory=lambda: Indices.of([], 0, 0))
    _own_guard: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    """Iteration 0's node guards, and which are the iteration's own guard (replaced)."""
    _res: Indices = field(default_factory=lambda: Indices.of([], 0, 0))
    _partners: Indices = field(default_factory=lambda: Indices.of([], 0, 0))
    _hold_ptr: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Iteration 0's holds: resources, partner nodes, where each node's start (set by
    `finish`)."""
    _info: list[NodeInfo | None] = field(default_factory=list)
    _parts: list[tuple[str, str] | None] = field(default_factory=list)
    """Per node of iteration 0: its info, and its lane split around the iteration mark (None
    for a lane without one)."""

    @classmethod
    def start(cls, out: PlanBuilder, guard: int, depth: int) -> Template:
        t = cls(out, guard, depth)
        t.nodes = (out.n_nodes, 0)
        t.guards = (len(out.guards), 0)
        t.events = (len(out.events), 0)
        t.resources = (len(out.resources), 0)
        t.hedges = out.hedge_units
        return t

    def finish(self, collected: list[Frontier]) -> Template:
        out = self.out
        self.nodes = n_lo, n_hi = (self.nodes[0], out.n_nodes)
        self.guards = g_lo, g_hi = (self.guards[0], len(out.guards))
        self.events = (self.events[0], len(out.events))
        self.resources = r_lo, r_hi = (self.resources[0], len(out.resources))
        self.hedges = out.hedge_units - self.hedges
        self.collected = tuple(collected)
        p_lo, h_lo = out.pred_ptr[n_lo], out.hold_ptr[n_lo]
        self._preds = Indices.of(out.pred_idx[p_lo:], n_lo, n_hi)
        self._pred_ptr = np.array(out.pred_ptr[n_lo:], dtype=np.int64) - p_lo
        self._guards = Indices.of(out.node_guard[n_lo:], g_lo, g_hi)
        self._own_guard = self._guards.values == self.guard
        self._res = Indices.of(out.hold_res[h_lo:], r_lo, r_hi)
        self._partners = Indices.of(out.hold_partner[h_lo:], n_lo, n_hi)
        self._hold_ptr = np.array(out.hold_ptr[n_lo:], dtype=np.int64) - h_lo
        self._info = out.infos(n_lo, n_hi)
        self._parts = [_lane_parts(i.lane, self.depth) if i else None for i in self._info]
        return self

    def stamp(self, first: int, last: int, event: int, parent: int) -> set[int]:
        """Append iterations `first..last-1` (under the trip event `event`, -1 for none, with
        guards under `parent`); the nodes their collected values need."""
        out = self.out
        shifts = []
        for i in range(first, last):
            guard = self.guard
            if event >= 0:
                guard = out.guard(GuardKind.ITERATION, event, i, parent=parent)
            shifts.append((guard, *self._copy_small(guard)))
        self._copy_nodes(shifts)
        self._copy_info(first, last)
        out.hedge_units += self.hedges * (last - first)
        n_lo, n_hi = self.nodes
        found: set[int] = set()
        for k in range(last - first):
            dn = out.n_nodes - (last - first - k) * (n_hi - n_lo) - n_lo
            found |= {p + dn if n_lo <= p < n_hi else p for f in self.collected for p in f}
        return found

    def _copy_small(self, guard: int) -> tuple[int, int]:
        """Copy iteration 0's events, guards and pools for an iteration with `guard`; the
        shifts of guard and pool indices."""
        out = self.out
        e_lo, e_hi = self.events
        de = len(out.events) - e_lo
        out.events.extend(
            [
                (kind, dist, prob, cap, alias + de if e_lo <= alias < e_hi else alias)
                for kind, dist, prob, cap, alias in out.events[e_lo:e_hi]
            ]
        )
        g_lo, g_hi = self.guards
        dg, own = len(out.guards) - g_lo, self.guard
        out.guards.extend(
            [
                (
                    guard if parent == own else parent + dg if g_lo <= parent < g_hi else parent,
                    kind,
                    event + de if e_lo <= event < e_hi else event,
                    index,
                )
                for parent, kind, event, index in out.guards[g_lo:g_hi]
            ]
        )
        r_lo, r_hi = self.resources
        dr = len(out.resources) - r_lo
        out.resources.extend(out.resources[r_lo:r_hi])
        return dg, dr

    def _copy_nodes(self, shifts: list[tuple[int, int, int]]) -> None:
        """Append every copy's node columns at once; `shifts` holds, per copy, its guard and
        the shifts of guard and pool indices."""
        out = self.out
        n_lo, n_hi = self.nodes
        count = len(shifts)
        guard, dg, dr = np.array(shifts, dtype=np.int64).reshape(-1, 3).T[:, :, None]
        steps = np.arange(count, dtype=np.int64)[:, None]
        dn = out.n_nodes - n_lo + (n_hi - n_lo) * steps
        pred_base = len(out.pred_idx) + len(self._preds.values) * steps
        hold_base = len(out.hold_res) + len(self._res.values) * steps
        out.pred_ptr.extend((self._pred_ptr + pred_base).ravel().tolist())
        out.pred_idx.extend(self._preds.shifted(dn))
        guards = np.where(self._own_guard, guard, self._guards.shifted_rows(dg))
        out.node_guard.extend(guards.ravel().tolist())
        out.node_dist.extend(out.node_dist[n_lo:n_hi] * count)
        out.node_flags.extend(out.node_flags[n_lo:n_hi] * count)
        h_lo = out.hold_ptr[n_lo]
        out.hold_role.extend(out.hold_role[h_lo : h_lo + len(self._res.values)] * count)
        out.hold_ptr.extend((self._hold_ptr + hold_base).ravel().tolist())
        out.hold_res.extend(self._res.shifted(dr))
        out.hold_partner.extend(self._partners.shifted(dn))

    def _copy_info(self, first: int, last: int) -> None:
        out, count = self.out, last - first
        out.info.extend(self._info * count)
        out.info_parts.extend(self._parts * count)
        marks = np.repeat(np.arange(first, last, dtype=np.int64), len(self._info))
        out.info_mark.extend(marks.tolist())


def _lane_parts(lane: str, depth: int) -> tuple[str, str] | None:
    """(head, tail) with `head + str(i) + tail` the lane of iteration i, for a lane with the
    iteration mark `#0` at nesting `depth` (`tab 1 #0 copy 2` -> `tab 1 #`, ` copy 2`); None
    for a lane without one, which every iteration keeps."""
    parts = lane.split(" #")
    if len(parts) <= depth + 1:
        return None
    head, _, rest = parts[depth + 1].partition(" ")
    if head != "0":
        return None
    tail = (" " + rest if rest else "") + "".join(" #" + p for p in parts[depth + 2 :])
    return " #".join(parts[: depth + 1]) + " #", tail


@dataclass(frozen=True)
class Indices:
    """A column of iteration 0's indices (nodes, guards or pools), and which of them point
    inside the iteration: those move with each copy, the others stay."""

    values: np.ndarray
    inside: np.ndarray

    @classmethod
    def of(cls, values: list[int], lo: int, hi: int) -> Indices:
        found = np.array(values, dtype=np.int64)
        return cls(found, (lo <= found) & (found < hi))

    def shifted_rows(self, by: np.ndarray) -> np.ndarray:
        """A row per copy: the column with that copy's shift (`by`, one row each) applied."""
        return np.where(self.inside, self.values + by, self.values)

    def shifted(self, by: np.ndarray) -> list[int]:
        """Every copy's column, one after the other."""
        return self.shifted_rows(by).ravel().tolist()
