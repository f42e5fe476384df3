"""A plan flattened for simulation: the timed ops of one function as arrays.

`flatten` (in `flatten.py`) turns IR into a `FlatPlan` once; the kernels then draw thousands of
samples from it. Everything a sample needs is here, as NumPy arrays the Numba kernels take
directly:

* **Nodes** in a topological order, predecessors in CSR form (`pred_ptr`, `pred_idx`). A node's
  duration is drawn from row `node_dist` of `tables` (-1: it takes no time). A node that waits for
  the *first* of its predecessors (a hedge's join) has `JOIN_FIRST` in `node_flags`; only nodes
  with `IN_SPAN` count toward the makespan (a hedge's losing copies are cancelled, so they don't).
* **Guards** say when a node runs at all: an unrolled loop iteration runs when the loop's sampled
  trip count exceeds its index, a branch when its sampled coin says so, a hedge copy when its
  index is below the strategy's k. A node that does not run takes no time and holds nothing.
* **Events** are the per-sample random choices guards test: trip counts (drawn from a table,
  rounded, capped; or equal to an earlier event, so a loop over a comprehension's result runs as
  often as the comprehension) and branch coins.
* **Resources** bound concurrency: every tab-touching op *uses* a slot of the browser (at most w
  ops in flight), every LLM call a slot of the LLM endpoint, and each iteration of a parallel
  loop *holds* a slot of the loop's tab pool from its `tab.open` (acquire) to its `tab.close`
  (release). Capacities depend on the strategy, so one flattened plan serves all of them.

Tables hold `k` mean-preserving atoms per distribution (`Distribution.quantile_table`): drawing a
uniformly random atom costs an integer from a cheap RNG and one load, instead of an `exp`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np

from agentjit.cost.distributions import Distribution

if TYPE_CHECKING:
    from agentjit.cost.simulate import Prediction

JOIN_FIRST = 1
IN_SPAN = 2
OBJECTIVES = ("mean", "p50", "p95")
"""What a schedule or a ranking minimises: the mean, median or 95th percentile makespan."""


class GuardKind(IntEnum):
    ITERATION = 0
    """Runs when the loop event's trip count exceeds `g_index`."""
    THEN = 1
    ELSE = 2
    HEDGE_COPY = 3
    """Runs when `g_index` (the copy number) is below the strategy's hedge k."""


class EventKind(IntEnum):
    TRIPS = 0
    COIN = 1


class ResourceKind(IntEnum):
    BROWSER = 0
    """Tab-touching ops in flight; capacity w (1 = serial)."""
    LLM = 1
    """LLM calls in flight; capacity set by the endpoint (a local server runs one at a time)."""
    LOOP_POOL = 2
    """Iterations of one parallel loop in flight; capacity min(max_tabs, w), over k if hedged."""


class ResourceRole(IntEnum):
    USE = 0
    """Take a slot at start, give it back at finish."""
    ACQUIRE = 1
    """Take a slot at start and hold it until the matching release."""
    RELEASE = 2
    """Give back the slot that node `res_partner` acquired, at this node's finish."""


USE, ACQUIRE, RELEASE = (int(role) for role in ResourceRole)
"""The roles as plain ints, for the kernels and the Python reference's inner loops."""
_BROWSER, _LLM = int(ResourceKind.BROWSER), int(ResourceKind.LLM)


@dataclass(frozen=True)
class Strategy:
    """How to run a plan: at most `tabs` tab ops at once, hedgeable chains as `hedge` copies."""

    tabs: int
    hedge: int = 1

    @property
    def label(self) -> str:
        if self.hedge > 1:
            return f"hedge-{self.hedge}"
        return "serial" if self.tabs == 1 else f"parallel-{self.tabs}"

    def to_attr(self) -> dict[str, object]:
        return {"strategy": self.label, "tabs": self.tabs, "hedge": self.hedge}


@dataclass
class NodeInfo:
    """What a node stands for, for Gantt charts and messages (not used by the kernels)."""

    label: str
    lane: str
    """The tab (or `llm`) the node runs on, e.g. `tab 0`, `loop@5:9`."""
    op_index: int = -1
    """The op's position in `FlatPlan.ops` (-1 for synthetic joins)."""


@dataclass
class FlatPlan:
    """One function, flattened for the Monte Carlo simulator. See the module docstring."""

    pred_ptr: np.ndarray
    pred_idx: np.ndarray
    node_dist: np.ndarray
    node_guard: np.ndarray
    node_flags: np.ndarray
    res_ptr: np.ndarray
    res_id: np.ndarray
    res_role: np.ndarray
    res_partner: np.ndarray
    g_parent: np.ndarray
    g_kind: np.ndarray
    g_event: np.ndarray
    g_index: np.ndarray
    ev_kind: np.ndarray
    ev_dist: np.ndarray
    ev_prob: np.ndarray
    ev_cap: np.ndarray
    ev_alias: np.ndarray
    resource_kinds: np.ndarray
    resource_max: np.ndarray
    """For loop pools: the loop's `max_tabs`; otherwise unused."""
    resource_hedged: np.ndarray
    dists: list[Distribution]
    tables: np.ndarray
    info: Sequence[NodeInfo] = field(default_factory=list)
    """Per node (`builder.NodeInfos` spells them out only when read)."""
    llm_limit: int = 1
    max_tabs: int = 1
    hedge_units: int = 0
    """How many hedgeable chains the plan holds (0: hedging changes nothing)."""
    kernel_args: tuple | None = field(default=None, repr=False, compare=False)
    """The arrays in the kernels' order, built once on first simulation (`simulate.py`)."""

    @property
    def n_nodes(self) -> int:
        return len(self.node_dist)

    @property
    def n_timed(self) -> int:
        return int(np.count_nonzero(self.node_dist >= 0))

    def capacities(self, strategy: Strategy) -> np.ndarray:
        """Slots per resource under `strategy`."""
        return self.capacity_table([strategy])[0]

    def capacity_table(self, strategies: Sequence[Strategy]) -> np.ndarray:
        """Slots per resource (columns) under each of `strategies` (rows): the browser has a
        slot per tab, the LLM endpoint `llm_limit`, a loop's tab pool min(its max_tabs, tabs),
        divided among the copies of a hedged chain, at least one."""
        tabs = np.array([[s.tabs] for s in strategies], dtype=np.int64)
        copies = np.array([[max(1, s.hedge)] for s in strategies], dtype=np.int64)
        pool = np.minimum(self.resource_max, tabs)
        pool = np.maximum(1, np.where(self.resource_hedged, pool // copies, pool))
        kinds = self.resource_kinds
        return np.where(kinds == _BROWSER, tabs, np.where(kinds == _LLM, self.llm_limit, pool))

    def strategies(self) -> list[Strategy]:
        """Serial, parallel with w = 2..max_tabs, and hedge-k when something is hedgeable."""
        found = [Strategy(w) for w in range(1, self.max_tabs + 1)]
        if self.hedge_units:
            found += [Strategy(self.max_tabs, k) for k in range(2, self.max_tabs + 1)]
        return found

    def check(self) -> None:
        """Raise ValueError unless the arrays describe a simulatable plan."""
        n = self.n_nodes
        if len(self.pred_ptr) != n + 1 or len(self.res_ptr) != n + 1:
            raise ValueError("pred_ptr and res_ptr need one entry per node plus one")
        owners = np.repeat(np.arange(n), np.diff(self.pred_ptr))
        late = np.nonzero(self.pred_idx >= owners)[0]
        if len(late):
            raise ValueError(f"node {owners[late[0]]} has a predecessor at or after it")
        missing = np.nonzero(self.node_guard >= len(self.g_parent))[0]
        if len(missing):
            v = missing[0]
            raise ValueError(f"node {v} names guard {self.node_guard[v]}, which is missing")
        late = np.nonzero(self.g_parent >= np.arange(len(self.g_parent)))[0]
        if len(late):
            raise ValueError(f"guard {late[0]} has a parent at or after it")
        late = np.nonzero(self.ev_alias >= np.arange(len(self.ev_alias)))[0]
        if len(late):
            raise ValueError(f"event {late[0]} aliases a later event")
        if self.tables.shape[0] != len(self.dists):
            raise ValueError("one table row per distribution")


@dataclass(frozen=True)
class Choice:
    """A plan and every strategy's prediction for it, best first under `objective`: what the
    schedule pass keeps for one function and what ranking keeps per candidate."""

    plan: FlatPlan
    predictions: list[Prediction]
    objective: str

    @property
    def best(self) -> Prediction:
        return self.predictions[0]

    @property
    def score(self) -> float:
        return self.best.score(self.objective)
