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
    _columns: dict[str, np.ndarray] = field(default_factory=dict)
    """Iteration 0's node columns (see `finish`), with indices relative to its first node, its
    first predecessor and its first hold where they point inside the iteration."""
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
        preds = np.array(out.pred_idx[p_lo:], dtype=np.int64)
        guards = np.array(out.node_guard[n_lo:], dtype=np.int64)
        res = np.array(out.hold_res[h_lo:], dtype=np.int64)
        partners = np.array(out.hold_partner[h_lo:], dtype=np.int64)
        self._columns = {
            "preds": preds,
            "preds_in": (n_lo <= preds) & (preds < n_hi),
            "pred_ptr": np.array(out.pred_ptr[n_lo:], dtype=np.int64) - p_lo,
            "guard": guards,
            "guard_own": guards == self.guard,
            "guard_in": (g_lo <= guards) & (guards < g_hi),
            "res": res,
            "res_in": (r_lo <= res) & (res < r_hi),
            "partner": partners,
            "partner_in": (n_lo <= partners) & (partners < n_hi),
            "hold_ptr": np.array(out.hold_ptr[n_lo:], dtype=np.int64) - h_lo,
        }
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
        out, c = self.out, self._columns
        n_lo, n_hi = self.nodes
        count = len(shifts)
        guard, dg, dr = np.array(shifts, dtype=np.int64).reshape(-1, 3).T[:, :, None]
        dn = (out.n_nodes - n_lo + (n_hi - n_lo) * np.arange(count, dtype=np.int64))[:, None]
        steps = np.arange(count, dtype=np.int64)[:, None]
        pred_base = len(out.pred_idx) + len(c["preds"]) * steps
        hold_base = len(out.hold_res) + len(c["res"]) * steps
        out.pred_ptr.extend((c["pred_ptr"] + pred_base).ravel().tolist())
        out.pred_idx.extend(np.where(c["preds_in"], c["preds"] + dn, c["preds"]).ravel().tolist())
        inner = np.where(c["guard_in"], c["guard"] + dg, c["guard"])
        out.node_guard.extend(np.where(c["guard_own"], guard, inner).ravel().tolist())
        out.node_dist.extend(out.node_dist[n_lo:n_hi] * count)
        out.node_flags.extend(out.node_flags[n_lo:n_hi] * count)
        h_lo = out.hold_ptr[n_lo]
        out.hold_role.extend(out.hold_role[h_lo : h_lo + len(c["res"])] * count)
        out.hold_ptr.extend((c["hold_ptr"] + hold_base).ravel().tolist())
        out.hold_res.extend(np.where(c["res_in"], c["res"] + dr, c["res"]).ravel().tolist())
        partners = np.where(c["partner_in"], c["partner"] + dn, c["partner"])
        out.hold_partner.extend(partners.ravel().tolist())

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
