"""Reference simulators: the kernels' semantics in plain NumPy and in plain Python.

They exist to check the Numba kernels, and as the baselines the benchmarks compare against.
Both draw *exact* samples from each node's `Distribution` (a fresh log-normal per draw), where
the kernels draw from quantile tables, so a test comparing them checks the table sampling too.
`python_schedule` also returns every node's start and finish, which `gantt.py` draws.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from agentjit.cost.distributions import Distribution
from agentjit.cost.plan import (
    ACQUIRE,
    IN_SPAN,
    JOIN_FIRST,
    RELEASE,
    USE,
    EventKind,
    FlatPlan,
    GuardKind,
    Strategy,
)

# --- NumPy: every node once, all samples at a time ----------------------------------------


def simulate_numpy(plan: FlatPlan, strategy: Strategy, samples: int, seed: int = 0) -> np.ndarray:
    """`samples` makespans, vectorised over samples."""
    rng = np.random.default_rng(seed)
    on = _numpy_guards(plan, strategy, _numpy_events(plan, rng, samples), samples)
    caps = plan.capacities(strategy)
    free = [np.zeros((samples, int(c))) for c in caps]
    rows = np.arange(samples)
    finish = np.zeros((plan.n_nodes, samples))
    active = np.ones((plan.n_nodes, samples), dtype=bool)
    held: dict[int, np.ndarray] = {}
    span = np.zeros(samples)
    for v in range(plan.n_nodes):
        ready = _numpy_ready(plan, v, finish, active, samples)
        g = plan.node_guard[v]
        act = on[g] if g >= 0 else np.ones(samples, dtype=bool)
        begin, chosen = ready.copy(), []
        for j in range(plan.res_ptr[v], plan.res_ptr[v + 1]):
            if plan.res_role[j] != RELEASE:
                pool = free[plan.res_id[j]]
                slot = np.argmin(pool, axis=1)
                chosen.append(slot)
                begin = np.maximum(begin, pool[rows, slot])
        d = plan.node_dist[v]
        dur = plan.dists[d].sample(rng, samples) if d >= 0 else 0.0
        end = np.where(act, begin + dur, ready)
        _numpy_settle(plan, v, act, end, chosen, free, held, active, rows)
        finish[v], active[v] = end, act
        if plan.node_flags[v] & IN_SPAN:  # a node that did not run does not count
            span = np.maximum(span, np.where(act, end, 0.0))
    return span


def _numpy_events(plan: FlatPlan, rng: np.random.Generator, samples: int) -> np.ndarray:
    values = np.zeros((len(plan.ev_kind), samples), dtype=np.int64)
    for e, kind in enumerate(plan.ev_kind):
        if plan.ev_alias[e] >= 0:
            values[e] = np.minimum(values[plan.ev_alias[e]], plan.ev_cap[e])
        elif kind == EventKind.TRIPS:
            drawn = plan.dists[plan.ev_dist[e]].sample(rng, samples)
            values[e] = np.minimum(np.floor(drawn + 0.5).astype(np.int64), plan.ev_cap[e])
        else:
            values[e] = rng.random(samples) < plan.ev_prob[e]
    return values


def _numpy_guards(
    plan: FlatPlan, strategy: Strategy, values: np.ndarray, samples: int
) -> np.ndarray:
    on = np.zeros((len(plan.g_parent), samples), dtype=bool)
    for g in range(len(plan.g_parent)):
        here = _guard_holds(plan, g, values, strategy.hedge)
        parent = plan.g_parent[g]
        on[g] = here if parent < 0 else on[parent] & here
    return on


def _guard_holds(plan: FlatPlan, g: int, values: np.ndarray, hedge: int):
    kind, event, index = plan.g_kind[g], plan.g_event[g], plan.g_index[g]
    if kind == GuardKind.ITERATION:
        return values[event] > index
    if kind == GuardKind.THEN:
        return values[event] == 1
    if kind == GuardKind.ELSE:
        return values[event] == 0
    return np.bool_(index < hedge)


def _numpy_ready(plan: FlatPlan, v: int, finish: np.ndarray, active: np.ndarray, samples: int):
    preds = plan.pred_idx[plan.pred_ptr[v] : plan.pred_ptr[v + 1]]
    if len(preds) == 0:
        return np.zeros(samples)
    if plan.node_flags[v] & JOIN_FIRST:
        first = np.where(active[preds], finish[preds], np.inf).min(axis=0)
        return np.where(np.isinf(first), 0.0, first)
    return finish[preds].max(axis=0)


def _numpy_settle(plan, v, act, end, chosen, free, held, active, rows) -> None:
    taken = iter(chosen)
    for j in range(plan.res_ptr[v], plan.res_ptr[v + 1]):
        role, pool = plan.res_role[j], free[plan.res_id[j]]
        if role == RELEASE:
            partner = plan.res_partner[j]
            mask = act & active[partner]
            pool[rows[mask], held[partner][mask]] = end[mask]
            continue
        slot = next(taken)
        pool[rows[act], slot[act]] = end[act] if role == USE else np.inf
        if role == ACQUIRE:
            held[v] = slot


# --- Plain Python: one sample at a time, with a trace ----------------------------------------


@dataclass
class Trace:
    """One simulated run: every node's start and finish, and whether it ran."""

    start: list[float]
    finish: list[float]
    active: list[bool]
    makespan: float


def simulate_python(plan: FlatPlan, strategy: Strategy, samples: int, seed: int = 0) -> np.ndarray:
    """`samples` makespans, one plain-Python schedule each."""
    rnd = random.Random(seed)
    return np.array([python_schedule(plan, strategy, rnd).makespan for _ in range(samples)])


def python_schedule(
    plan: FlatPlan, strategy: Strategy, rnd: random.Random | None = None, *, means: bool = False
) -> Trace:
    """One list schedule. `means=True` uses each node's mean duration and the mean trip counts
    and likelier branches instead of random draws (the deterministic picture a Gantt shows)."""
    rnd = rnd or random.Random(0)
    values = [_python_event(plan, e, rnd, means) for e in range(len(plan.ev_kind))]
    for e, alias in enumerate(plan.ev_alias):
        if alias >= 0:
            values[e] = min(values[alias], int(plan.ev_cap[e]))
    events = np.array(values, dtype=np.int64).reshape(-1, 1)
    on = _numpy_guards(plan, strategy, events, 1)[:, 0]
    free = [[0.0] * int(c) for c in plan.capacities(strategy)]
    n = plan.n_nodes
    trace = Trace([0.0] * n, [0.0] * n, [True] * n, 0.0)
    held: dict[int, int] = {}
    for v in range(n):
        _python_node(plan, v, trace, on, free, held, rnd, means)
        if plan.node_flags[v] & IN_SPAN and trace.active[v]:
            trace.makespan = max(trace.makespan, trace.finish[v])
    return trace


def _python_event(plan: FlatPlan, e: int, rnd: random.Random, means: bool) -> int:
    if plan.ev_kind[e] == EventKind.COIN:
        p = plan.ev_prob[e]
        return int(p >= 0.5) if means else int(rnd.random() < p)
    dist = plan.dists[plan.ev_dist[e]]
    drawn = dist.mean() if means else draw(dist, rnd)
    return min(math.floor(drawn + 0.5), int(plan.ev_cap[e]))


def _python_node(plan, v, trace, on, free, held, rnd, means) -> None:
    preds = plan.pred_idx[plan.pred_ptr[v] : plan.pred_ptr[v + 1]]
    if plan.node_flags[v] & JOIN_FIRST:
        running = [trace.finish[p] for p in preds if trace.active[p]]
        ready = min(running, default=0.0)
    else:
        ready = max((trace.finish[p] for p in preds), default=0.0)
    g = plan.node_guard[v]
    if g >= 0 and not on[g]:
        trace.active[v] = False
        trace.start[v] = trace.finish[v] = ready
        return
    begin, chosen = ready, []
    for j in range(plan.res_ptr[v], plan.res_ptr[v + 1]):
        if plan.res_role[j] != RELEASE:
            pool = free[plan.res_id[j]]
            slot = min(range(len(pool)), key=pool.__getitem__)
            chosen.append(slot)
            begin = max(begin, pool[slot])
    d = plan.node_dist[v]
    duration = 0.0 if d < 0 else plan.dists[d].mean() if means else draw(plan.dists[d], rnd)
    end = begin + duration
    taken = iter(chosen)
    for j in range(plan.res_ptr[v], plan.res_ptr[v + 1]):
        role, pool = plan.res_role[j], free[plan.res_id[j]]
        if role == RELEASE:
            partner = plan.res_partner[j]
            if trace.active[partner]:
                pool[held[partner]] = end
            continue
        slot = next(taken)
        pool[slot] = end if role == USE else math.inf
        if role == ACQUIRE:
            held[v] = slot
    trace.start[v], trace.finish[v] = begin, end


def draw(dist: Distribution, rnd: random.Random) -> float:
    """One exact draw in plain Python."""
    if dist.kind == "lognormal":
        return rnd.lognormvariate(dist.mu, dist.sigma)
    if dist.kind == "empirical":
        return rnd.choice(dist.samples)
    return dist.value
