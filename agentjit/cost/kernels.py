"""Numba kernels of the Monte Carlo simulator: sample a `FlatPlan` N times, list-schedule each
sample under the resource limits, return the makespans.

Why it is fast: a draw is one xorshift step and one table load (`tables` hold mean-preserving
quantile atoms, a power-of-two count per row, so the index is the top bits of the random word);
each sample's state is a few small arrays that stay in L1; the schedule is one pass over the
nodes in topological order. `simulate_chunks` splits the samples into independent chunks (their
own seeds) run by `prange`; the chunk count is an argument because a cached parallel function
must not read the thread count itself.

The list schedule: a node is ready when its predecessors finish (the first of them, for a hedge
join); it starts when it is ready and a slot of each resource it uses or acquires is free (the
earliest-free slot); it finishes after its sampled duration. A node whose guard is off takes no
time and holds no slot. `reference.py` has the same semantics in NumPy and plain Python.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_MULT = np.uint64(0x2545F4914F6CDD1D)
JOIN_FIRST = 1
IN_SPAN = 2
GUARDED = 4
HOLDS = 8
ONE_USE = 16
"""Bits of a node's mode: the plan's flags, whether it has a guard, resources, or exactly one
resource that it uses (not holds)."""
USE, ACQUIRE, RELEASE = 0, 1, 2
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True)
def _next(x: np.uint64) -> np.uint64:
    """xorshift64: the next state. The caller scrambles it with `_MULT` (xorshift64*)."""
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    return x


@njit(cache=True)
def _seed_state(seed: int) -> np.uint64:
    """A non-zero xorshift state from any integer seed (splitmix64 finaliser)."""
    z = np.uint64(seed) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return z if z != 0 else _GOLDEN


@njit(cache=True, inline="always")
def _sample_events(ev_kind, ev_dist, ev_prob, ev_cap, ev_alias, tables, shift, x, values):
    for e in range(ev_kind.shape[0]):
        if ev_alias[e] >= 0:
            values[e] = min(values[ev_alias[e]], ev_cap[e])
            continue
        x = _next(x)
        if ev_kind[e] == 0:
            trips = np.int64(tables[ev_dist[e], np.int64((x * _MULT) >> shift)] + 0.5)
            values[e] = min(trips, ev_cap[e])
        else:
            u = ((x * _MULT) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
            values[e] = 1 if u < ev_prob[e] else 0
    return x


@njit(cache=True, inline="always")
def _guards_on(g_parent, g_kind, g_event, g_index, values, hedge_k, on):
    for g in range(g_parent.shape[0]):
        parent_on = g_parent[g] < 0 or on[g_parent[g]]
        kind = g_kind[g]
        if kind == 0:
            here = values[g_event[g]] > g_index[g]
        elif kind == 1:
            here = values[g_event[g]] == 1
        elif kind == 2:
            here = values[g_event[g]] == 0
        else:
            here = g_index[g] < hedge_k
        on[g] = parent_on and here


@njit(cache=True)
def _scratch(n, slots, events, guards):
    """One chunk's working arrays: finish times, ran flags, held slots, slot free times,
    event values, guard states, and the slots a node picked."""
    return (
        np.zeros(n),
        np.ones(n, dtype=np.bool_),
        np.zeros(n, dtype=np.int64),
        np.zeros(slots),
        np.zeros(events + 1, dtype=np.int64),
        np.zeros(guards + 1, dtype=np.bool_),
        np.zeros(64, dtype=np.int64),
    )


@njit(cache=True)
def _first_ready(v, pred_ptr, pred_idx, finish, active):
    """A hedge join is ready when the first of its running copies finishes."""
    first = np.inf
    for j in range(pred_ptr[v], pred_ptr[v + 1]):
        p = pred_idx[j]
        if active[p] and finish[p] < first:
            first = finish[p]
    return first if first < np.inf else 0.0


@njit(cache=True)
def simulate_range(plan, caps_ptr, tables, shift, hedge_k, seed, out, lo, hi):  # noqa: C901
    """Samples `lo..hi` of the makespan into `out`, with an RNG seeded from `seed`.

    One function on purpose: a call that passes arrays costs reference-count updates, which
    per node would cost more than the node's work (helpers marked `inline="always"` measured
    8x slower here than this spelled-out loop). The common node (no join, guard or resource)
    takes the short path."""
    (pred_ptr, pred_idx, node_dist, node_guard, node_mode, res_ptr, res_id, res_role,
     res_partner, g_parent, g_kind, g_event, g_index, ev_kind, ev_dist, ev_prob, ev_cap,
     ev_alias) = plan  # fmt: skip
    n = node_dist.shape[0]
    finish, active, held, free, values, on, chosen = _scratch(
        n, caps_ptr[-1], ev_kind.shape[0], g_parent.shape[0]
    )
    x = _seed_state(seed)
    for s in range(lo, hi):
        x = _sample_events(ev_kind, ev_dist, ev_prob, ev_cap, ev_alias, tables, shift, x, values)
        _guards_on(g_parent, g_kind, g_event, g_index, values, hedge_k, on)
        free[:] = 0.0
        span = 0.0
        for v in range(n):
            mode = node_mode[v]
            ready = 0.0
            if mode & JOIN_FIRST:  # rare: a call is affordable here
                ready = _first_ready(v, pred_ptr, pred_idx, finish, active)
            else:
                for j in range(pred_ptr[v], pred_ptr[v + 1]):
                    f = finish[pred_idx[j]]
                    if f > ready:
                        ready = f
            if mode & GUARDED:
                active[v] = on[node_guard[v]]
                if not active[v]:
                    finish[v] = ready
                    continue
            end = ready
            best = 0
            if mode & ONE_USE:  # the common holder: a tab op taking one browser slot
                r = res_id[res_ptr[v]]
                best = caps_ptr[r]
                for slot in range(best + 1, caps_ptr[r + 1]):
                    if free[slot] < free[best]:
                        best = slot
                end = max(end, free[best])
            elif mode & HOLDS:
                for j in range(res_ptr[v], res_ptr[v + 1]):
                    if res_role[j] != RELEASE:
                        r = res_id[j]
                        best = caps_ptr[r]
                        for slot in range(best + 1, caps_ptr[r + 1]):
                            if free[slot] < free[best]:
                                best = slot
                        chosen[j - res_ptr[v]] = best
                        end = max(end, free[best])
            d = node_dist[v]
            if d >= 0:
                x ^= x >> np.uint64(12)
                x ^= x << np.uint64(25)
                x ^= x >> np.uint64(27)
                end += tables[d, np.int64((x * _MULT) >> shift)]
            if mode & ONE_USE:
                free[best] = end
            elif mode & HOLDS:
                for j in range(res_ptr[v], res_ptr[v + 1]):
                    role = res_role[j]
                    if role == USE:
                        free[chosen[j - res_ptr[v]]] = end
                    elif role == ACQUIRE:
                        free[chosen[j - res_ptr[v]]] = np.inf
                        held[v] = chosen[j - res_ptr[v]]
                    elif res_partner[j] >= 0 and active[res_partner[j]]:
                        free[held[res_partner[j]]] = end
            finish[v] = end
            if mode & IN_SPAN and end > span:
                span = end
        out[s] = span


@njit(cache=True, parallel=True)
def simulate_chunks(plan, caps_ptr, tables, shift, hedge_k, seed, out, n_chunks):
    """All samples of `out`, split into `n_chunks` independently seeded chunks run in parallel."""
    n = out.shape[0]
    for c in prange(n_chunks):
        lo = c * n // n_chunks
        hi = (c + 1) * n // n_chunks
        simulate_range(plan, caps_ptr, tables, shift, hedge_k, seed * 1000003 + c, out, lo, hi)
