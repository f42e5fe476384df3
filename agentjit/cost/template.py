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

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentjit.cost.plan import NodeInfo

if TYPE_CHECKING:
    from agentjit.cost.builder import PlanBuilder
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
        self.nodes = (self.nodes[0], len(out.node_dist))
        self.guards = (self.guards[0], len(out.guards))
        self.events = (self.events[0], len(out.events))
        self.resources = (self.resources[0], len(out.resources))
        self.hedges = out.hedge_units - self.hedges
        self.collected = tuple(collected)
        return self

    def instantiate(self, i: int, guard: int) -> set[int]:
        """Append iteration i (whose guard is `guard`); the nodes its collected values need."""
        out = self.out
        shift_e = _shifter(self.events, len(out.events))
        for kind, dist, prob, cap, alias in out.events[slice(*self.events)]:
            out.events.append((kind, dist, prob, cap, shift_e(alias)))
        shift_g = _shifter(self.guards, len(out.guards), {self.guard: guard})
        for parent, kind, event, index in out.guards[slice(*self.guards)]:
            out.guards.append((shift_g(parent), kind, shift_e(event), index))
        shift_r = _shifter(self.resources, len(out.resources))
        out.resources.extend(out.resources[slice(*self.resources)])
        shift_n = _shifter(self.nodes, len(out.node_dist))
        for v in range(*self.nodes):
            out.preds.append([shift_n(p) for p in out.preds[v]])
            out.node_dist.append(out.node_dist[v])
            out.node_guard.append(shift_g(out.node_guard[v]))
            out.node_flags.append(out.node_flags[v])
            out.holds.append([(shift_r(r), role, shift_n(p)) for r, role, p in out.holds[v]])
            info = out.info[v]
            out.info.append(NodeInfo(info.label, _renumber(info.lane, self.depth, i)))
        out.hedge_units += self.hedges
        return {shift_n(p) for frontier in self.collected for p in frontier}


def _shifter(span: tuple[int, int], base: int, fixed: dict[int, int] | None = None):
    """Maps an index inside `span` to its copy starting at `base`; others to themselves."""
    lo, hi = span
    fixed = fixed or {}

    def shift(index: int) -> int:
        if index in fixed:
            return fixed[index]
        return index - lo + base if lo <= index < hi else index

    return shift


def _renumber(lane: str, depth: int, i: int) -> str:
    """`tab 1 #0 copy 2` -> `tab 1 #5 copy 2`: the iteration mark at nesting `depth`."""
    parts = lane.split(" #")
    if len(parts) <= depth + 1:
        return lane
    head, _, rest = parts[depth + 1].partition(" ")
    if head != "0":
        return lane
    parts[depth + 1] = f"{i} {rest}" if rest else str(i)
    return " #".join(parts)
