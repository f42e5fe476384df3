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
    from agentjit.cost.flatten import Flattener, Frontier


@dataclass
class Template:
    """Index ranges of what iteration 0 added: nodes, guards (after its own), events, pools."""

    fl: Flattener
    guard: int
    depth: int
    nodes: tuple[int, int] = (0, 0)
    guards: tuple[int, int] = (0, 0)
    events: tuple[int, int] = (0, 0)
    resources: tuple[int, int] = (0, 0)
    hedges: int = 0
    collected: tuple[Frontier, ...] = ()

    @classmethod
    def start(cls, fl: Flattener, guard: int, depth: int) -> Template:
        t = cls(fl, guard, depth)
        t.nodes = (len(fl.nodes.dist), 0)
        t.guards = (len(fl.guards), 0)
        t.events = (len(fl.events), 0)
        t.resources = (len(fl.resources), 0)
        t.hedges = fl.hedge_units
        return t

    def finish(self, collected: list[Frontier]) -> Template:
        fl = self.fl
        self.nodes = (self.nodes[0], len(fl.nodes.dist))
        self.guards = (self.guards[0], len(fl.guards))
        self.events = (self.events[0], len(fl.events))
        self.resources = (self.resources[0], len(fl.resources))
        self.hedges = fl.hedge_units - self.hedges
        self.collected = tuple(collected)
        return self

    def instantiate(self, i: int, guard: int) -> set[int]:
        """Append iteration i (whose guard is `guard`); the nodes its collected values need."""
        fl = self.fl
        shift_e = _shifter(self.events, len(fl.events))
        for kind, dist, prob, cap, alias in fl.events[slice(*self.events)]:
            fl.events.append((kind, dist, prob, cap, shift_e(alias)))
        shift_g = _shifter(self.guards, len(fl.guards), {self.guard: guard})
        for parent, kind, event, index in fl.guards[slice(*self.guards)]:
            fl.guards.append((shift_g(parent), kind, shift_e(event), index))
        shift_r = _shifter(self.resources, len(fl.resources))
        fl.resources.extend(fl.resources[slice(*self.resources)])
        shift_n = _shifter(self.nodes, len(fl.nodes.dist))
        n = fl.nodes
        for v in range(*self.nodes):
            n.preds.append([shift_n(p) for p in n.preds[v]])
            n.dist.append(n.dist[v])
            n.guard.append(shift_g(n.guard[v]))
            n.flags.append(n.flags[v])
            n.holds.append([(shift_r(r), role, shift_n(p)) for r, role, p in n.holds[v]])
            info = n.info[v]
            n.info.append(NodeInfo(info.label, _renumber(info.lane, self.depth, i)))
        fl.hedge_units += self.hedges
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
