"""Loop iterations as copies: flatten one iteration, then stamp out the rest with shifted
indices instead of walking the body again.

Legal when every iteration starts from the same frontiers (the loop carries nothing that a
timed op changes, as in a parallel loop, whose carried tab token passes through `tab.open`):
then iteration i's nodes, guards, events and tab pools are iteration 0's, with indices inside
iteration 0 shifted, its guard replaced by iteration i's, and `#0` in its lanes renumbered. The
result is exactly the arrays a walk would produce (tested on every example), in a fraction of
the time, which is most of what flattening costs for ranking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate, pairwise
from typing import TYPE_CHECKING

from agentjit.cost.plan import NodeInfo

if TYPE_CHECKING:
    from agentjit.cost.builder import Hold, PlanBuilder
    from agentjit.cost.flatten import Frontier


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
    _lanes: list[tuple[str, str] | None] = field(default_factory=list)
    """Per node of iteration 0: its lane split around the iteration mark (see `_lane_parts`)."""
    _preds: list[tuple[int, bool]] = field(default_factory=list)
    """Iteration 0's predecessors, flat, each with whether it lies inside the iteration (then
    as an offset from the iteration's first node); `_bounds` split them per node."""
    _bounds: list[tuple[int, int]] = field(default_factory=list)
    _holds: list[tuple[int, list[tuple[int, bool, int, int, bool]]]] = field(default_factory=list)
    """Iteration 0's nodes with resources: (node offset, holds with whether each resource and
    partner node lie inside the iteration)."""

    @classmethod
    def start(cls, out: PlanBuilder, guard: int, depth: int) -> Template:
        t = cls(out, guard, depth)
        t.nodes = (len(out.node_dist), 0)
        t.guards = (len(out.guards), 0)
        t.events = (len(out.events), 0)
        t.resources = (len(out.resources), 0)
        t.hedges = out.hedge_units
        return t

    def finish(self, collected: list[Frontier]) -> Template:
        out = self.out
        self.nodes = n_lo, n_hi = (self.nodes[0], len(out.node_dist))
        self.guards = (self.guards[0], len(out.guards))
        self.events = (self.events[0], len(out.events))
        self.resources = r_lo, r_hi = (self.resources[0], len(out.resources))
        self.hedges = out.hedge_units - self.hedges
        self.collected = tuple(collected)
        self._lanes = [_lane_parts(info.lane, self.depth) for info in out.info[n_lo:n_hi]]
        self._preds = [
            (p - n_lo, True) if n_lo <= p < n_hi else (p, False)
            for ps in out.preds[n_lo:n_hi]
            for p in ps
        ]
        self._bounds = list(pairwise([0, *accumulate(len(ps) for ps in out.preds[n_lo:n_hi])]))
        self._holds = [
            (k, [(r, r_lo <= r < r_hi, role, p, n_lo <= p < n_hi) for r, role, p in hs])
            for k, hs in enumerate(out.holds[n_lo:n_hi])
            if hs
        ]
        return self

    def instantiate(self, i: int, guard: int) -> set[int]:
        """Append iteration i (whose guard is `guard`); the nodes its collected values need."""
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
        n_lo, n_hi = self.nodes
        base = len(out.node_dist)
        dn = base - n_lo
        flat = [v + base if inside else v for v, inside in self._preds]
        out.preds.extend([flat[a:b] for a, b in self._bounds])
        out.node_dist.extend(out.node_dist[n_lo:n_hi])
        out.node_guard.extend(
            [
                guard if g == own else g + dg if g_lo <= g < g_hi else g
                for g in out.node_guard[n_lo:n_hi]
            ]
        )
        out.node_flags.extend(out.node_flags[n_lo:n_hi])
        holds: list[list[Hold]] = [[] for _ in range(n_hi - n_lo)]
        for k, hs in self._holds:
            holds[k] = [
                (r + dr if r_in else r, role, p + dn if p_in else p)
                for r, r_in, role, p, p_in in hs
            ]
        out.holds.extend(holds)
        mark = str(i)
        out.info.extend(
            [
                NodeInfo(info.label, info.lane if parts is None else parts[0] + mark + parts[1])
                for info, parts in zip(out.info[n_lo:n_hi], self._lanes, strict=True)
            ]
        )
        out.hedge_units += self.hedges
        return {p + dn if n_lo <= p < n_hi else p for frontier in self.collected for p in frontier}


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
