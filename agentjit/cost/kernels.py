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

from agentjit.cost.plan import ACQUIRE, IN_SPAN, JOIN_FIRST, RELEASE, USE

GUARDED = 4
HOLDS = 8
ONE_USE = 16
ONE_HOLD = 32
"""Bits of a node's mode beyond the plan's flags (JOIN_FIRST, IN_SPAN): whether it has a guard,
resources, exactly one resource that it uses, or exactly one that it acquires or releases (a
loop iteration's slot in its tab pool)."""
LANES = 4
"""Samples scheduled side by side (the hot path below is written out for exactly four)."""
_MULT = np.uint64(0x2545F4914F6CDD1D)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, inline="always")
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


@njit(cache=True)
def seed_lanes(seed: int) -> np.ndarray:
    """The RNG state of each lane for a run seeded with `seed`."""
    xs = np.empty(LANES, dtype=np.uint64)
    for lane in range(LANES):
        xs[lane] = _seed_state(seed * LANES + lane)
    return xs


@njit(cache=True, inline="always")
def _sample_events(ev_kind, ev_dist, ev_prob, ev_cap, ev_alias, tables, shift, xs, values):
    """Every event's value in each lane: trip counts drawn from tables, branch coins."""
    for lane in range(LANES):
        x = xs[lane]
        for e in range(ev_kind.shape[0]):
            if ev_alias[e] >= 0:
                values[e, lane] = min(values[ev_alias[e], lane], ev_cap[e])
                continue
            x = _next(x)
            if ev_kind[e] == 0:
                trips = np.int64(tables[ev_dist[e], np.int64((x * _MULT) >> shift)] + 0.5)
                values[e, lane] = min(trips, ev_cap[e])
            else:
                u = ((x * _MULT) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
                values[e, lane] = 1 if u < ev_prob[e] else 0
        xs[lane] = x


@njit(cache=True, inline="always")
def _guards_on(g_parent, g_kind, g_event, g_index, values, hedge_k, on):
    """Which guards hold in each lane (parents first)."""
    for g in range(g_parent.shape[0]):
        kind, event = g_kind[g], g_event[g]
        for lane in range(LANES):
            parent_on = g_parent[g] < 0 or on[g_parent[g], lane]
            if kind == 0:
                here = values[event, lane] > g_index[g]
            elif kind == 1:
                here = values[event, lane] == 1
            elif kind == 2:
                here = values[event, lane] == 0
            else:
                here = g_index[g] < hedge_k
            on[g, lane] = parent_on and here


@njit(cache=True)
def _scratch(n, slots, events, guards):
    """One chunk's working arrays, a column per lane: finish times, ran flags, held slots, slot
    free times, event values, guard states; and the slots a node picked."""
    return (
        np.zeros((n, LANES)),
        np.ones((n, LANES), dtype=np.bool_),
        np.zeros((n, LANES), dtype=np.int64),
        np.zeros((slots, LANES)),
        np.zeros((events + 1, LANES), dtype=np.int64),
        np.zeros((guards + 1, LANES), dtype=np.bool_),
        np.zeros(64, dtype=np.int64),
    )


@njit(cache=True)
def _first_ready(v, lane, pred_ptr, pred_idx, finish, active):
    """A hedge join is ready when the first of its running copies finishes."""
    first = np.inf
    for j in range(pred_ptr[v], pred_ptr[v + 1]):
        p = pred_idx[j]
        if active[p, lane] and finish[p, lane] < first:
            first = finish[p, lane]
    return first if first < np.inf else 0.0


@njit(cache=True, inline="always")
def _earliest_slot(free, lo_slot, hi_slot, lane):
    """The slot of `lo_slot..hi_slot-1` that `lane` finds free first, and when. The lowest time
    travels with the search: reading `free[best]` after it would wait for the comparisons to
    settle the address (carrying it measured 15-50% faster on plans with slots). Inlined at no
    measured cost, unlike a helper for the ready time (2-4x slower)."""
    best, low = lo_slot, free[lo_slot, lane]
    for slot in range(lo_slot + 1, hi_slot):
        if free[slot, lane] < low:
            best, low = slot, free[slot, lane]
    return best, low


@njit(cache=True, inline="always")
def _pool_node(v, mode, plan, caps_ptr, tables, shift, xs, finish, active, held, free, on, span):
    """A node that acquires or releases one slot of a tab pool (a loop iteration's open, or
    its close or hedge join), in every lane: the general path without its resource loops."""
    pred_ptr, pred_idx, node_dist, node_guard = plan[0], plan[1], plan[2], plan[3]
    j = plan[5][v]
    acquire = plan[7][j] == ACQUIRE
    lo_slot, hi_slot, partner = caps_ptr[plan[6][j]], caps_ptr[plan[6][j] + 1], plan[8][j]
    for lane in range(LANES):
        if mode & JOIN_FIRST:
            end = _first_ready(v, lane, pred_ptr, pred_idx, finish, active)
        else:
            end = 0.0
            for k in range(pred_ptr[v], pred_ptr[v + 1]):
                end = max(end, finish[pred_idx[k], lane])
        if mode & GUARDED:
            active[v, lane] = on[node_guard[v], lane]
            if not active[v, lane]:
                finish[v, lane] = end
                continue
        best = lo_slot
        if acquire:
            best, low = _earliest_slot(free, lo_slot, hi_slot, lane)
            end = max(end, low)
        if node_dist[v] >= 0:
            x = _next(xs[lane])
            xs[lane] = x
            end += tables[node_dist[v], np.int64((x * _MULT) >> shift)]
        if acquire:
            free[best, lane] = np.inf
            held[v, lane] = best
        elif partner >= 0 and active[partner, lane]:
            free[held[partner, lane], lane] = end
        finish[v, lane] = end
        if mode & IN_SPAN:
            span[lane] = max(span[lane], end)


@njit(cache=True)
def _live_nodes(node_level, hedge_k, active):
    """The nodes a strategy with `hedge_k` may run, in order. The others (copies of a hedged
    chain past k) never run and only hedge joins, which skip them, read them: they are marked
    inactive once instead of visited in every sample."""
    live = np.empty(node_level.shape[0], dtype=np.int64)
    count = 0
    for v in range(node_level.shape[0]):
        if node_level[v] < hedge_k:
            live[count] = v
            count += 1
        else:
            active[v, :] = False
    return live[:count]


@njit(cache=True, nogil=True)
def simulate_range(plan, caps_ptr, tables, shift, hedge_k, xs, out, lo, hi):  # noqa: C901
    """Samples `lo..hi` of the makespan into `out`, drawing from the lanes' RNG states `xs`
    (from `seed_lanes`), which it advances: a run continued from where another stopped (at a
    multiple of `LANES`) gives the samples one longer run would.

    `LANES` samples go through the nodes together: their dependency chains are independent, so
    the CPU overlaps them (the common node's work is spelled out per lane for that reason).
    Direct paths, most frequent first in real plans: a guarded node without resources (an op of
    a loop iteration or a branch: written out per lane, a lane whose guard is off draws
    nothing); a node on one browser slot (written out per lane when unguarded); a node taking
    or giving back one tab pool slot; then the general path (hedge joins without a pool,
    several resources) and the plain node. Copies of hedged chains that the strategy never
    runs are not visited. It is one function on purpose: a call that passes arrays costs
    reference-count updates, which per node would cost more than the node's work."""
    (pred_ptr, pred_idx, node_dist, node_guard, node_mode, res_ptr, res_id, res_role,
     res_partner, g_parent, g_kind, g_event, g_index, ev_kind, ev_dist, ev_prob, ev_cap,
     ev_alias, node_level) = plan  # fmt: skip
    finish, active, held, free, values, on, chosen = _scratch(
        node_dist.shape[0], caps_ptr[-1], ev_kind.shape[0], g_parent.shape[0]
    )
    live = _live_nodes(node_level, hedge_k, active)
    span = np.zeros(LANES)
    for s in range(lo, hi, LANES):
        _sample_events(ev_kind, ev_dist, ev_prob, ev_cap, ev_alias, tables, shift, xs, values)
        _guards_on(g_parent, g_kind, g_event, g_index, values, hedge_k, on)
        free[:] = 0.0
        span[:] = 0.0
        x0, x1, x2, x3 = xs[0], xs[1], xs[2], xs[3]
        for v in live:
            mode = node_mode[v]
            if mode & ~IN_SPAN == GUARDED:  # an op of a loop iteration or a branch
                r0 = r1 = r2 = r3 = 0.0
                for j in range(pred_ptr[v], pred_ptr[v + 1]):
                    p = pred_idx[j]
                    r0 = max(r0, finish[p, 0])
                    r1 = max(r1, finish[p, 1])
                    r2 = max(r2, finish[p, 2])
                    r3 = max(r3, finish[p, 3])
                g = node_guard[v]
                a0, a1, a2, a3 = on[g, 0], on[g, 1], on[g, 2], on[g, 3]
                active[v, 0], active[v, 1], active[v, 2], active[v, 3] = a0, a1, a2, a3
                d = node_dist[v]
                if d >= 0:  # only a lane whose guard holds draws
                    if a0:
                        x0 = _next(x0)
                        r0 += tables[d, np.int64((x0 * _MULT) >> shift)]
                    if a1:
                        x1 = _next(x1)
                        r1 += tables[d, np.int64((x1 * _MULT) >> shift)]
                    if a2:
                        x2 = _next(x2)
                        r2 += tables[d, np.int64((x2 * _MULT) >> shift)]
                    if a3:
                        x3 = _next(x3)
                        r3 += tables[d, np.int64((x3 * _MULT) >> shift)]
                finish[v, 0], finish[v, 1], finish[v, 2], finish[v, 3] = r0, r1, r2, r3
                if mode & IN_SPAN:
                    span[0] = max(span[0], r0) if a0 else span[0]
                    span[1] = max(span[1], r1) if a1 else span[1]
                    span[2] = max(span[2], r2) if a2 else span[2]
                    span[3] = max(span[3], r3) if a3 else span[3]
                continue
            if mode & ~IN_SPAN == HOLDS | ONE_USE and node_dist[v] >= 0:  # on one browser slot
                r0 = r1 = r2 = r3 = 0.0  # unguarded: every lane runs it, written out per lane
                for j in range(pred_ptr[v], pred_ptr[v + 1]):
                    p = pred_idx[j]
                    r0 = max(r0, finish[p, 0])
                    r1 = max(r1, finish[p, 1])
                    r2 = max(r2, finish[p, 2])
                    r3 = max(r3, finish[p, 3])
                lo_slot, hi_slot = caps_ptr[res_id[res_ptr[v]]], caps_ptr[res_id[res_ptr[v]] + 1]
                b0 = b1 = b2 = b3 = lo_slot
                f0, f1 = free[lo_slot, 0], free[lo_slot, 1]
                f2, f3 = free[lo_slot, 2], free[lo_slot, 3]
                for slot in range(lo_slot + 1, hi_slot):
                    g0, g1, g2, g3 = free[slot, 0], free[slot, 1], free[slot, 2], free[slot, 3]
                    if g0 < f0:
                        b0, f0 = slot, g0
                    if g1 < f1:
                        b1, f1 = slot, g1
                    if g2 < f2:
                        b2, f2 = slot, g2
                    if g3 < f3:
                        b3, f3 = slot, g3
                d = node_dist[v]
                x0, x1, x2, x3 = _next(x0), _next(x1), _next(x2), _next(x3)
                r0 = max(r0, f0) + tables[d, np.int64((x0 * _MULT) >> shift)]
                r1 = max(r1, f1) + tables[d, np.int64((x1 * _MULT) >> shift)]
                r2 = max(r2, f2) + tables[d, np.int64((x2 * _MULT) >> shift)]
                r3 = max(r3, f3) + tables[d, np.int64((x3 * _MULT) >> shift)]
                free[b0, 0], free[b1, 1], free[b2, 2], free[b3, 3] = r0, r1, r2, r3
                finish[v, 0], finish[v, 1], finish[v, 2], finish[v, 3] = r0, r1, r2, r3
                if mode & IN_SPAN:
                    span[0], span[1] = max(span[0], r0), max(span[1], r1)
                    span[2], span[3] = max(span[2], r2), max(span[3], r3)
                continue
            if mode & ~(IN_SPAN | GUARDED) == HOLDS | ONE_USE:  # guarded, on one browser slot
                xs[0], xs[1], xs[2], xs[3] = x0, x1, x2, x3
                lo_slot, hi_slot = caps_ptr[res_id[res_ptr[v]]], caps_ptr[res_id[res_ptr[v]] + 1]
                for lane in range(LANES):
                    end = 0.0
                    for j in range(pred_ptr[v], pred_ptr[v + 1]):
                        end = max(end, finish[pred_idx[j], lane])
                    if mode & GUARDED:
                        active[v, lane] = on[node_guard[v], lane]
                        if not active[v, lane]:
                            finish[v, lane] = end
                            continue
                    best, low = _earliest_slot(free, lo_slot, hi_slot, lane)
                    end = max(end, low)
                    if node_dist[v] >= 0:
                        x = _next(xs[lane])
                        xs[lane] = x
                        end += tables[node_dist[v], np.int64((x * _MULT) >> shift)]
                    free[best, lane] = end
                    finish[v, lane] = end
                    if mode & IN_SPAN:
                        span[lane] = max(span[lane], end)
                x0, x1, x2, x3 = xs[0], xs[1], xs[2], xs[3]
                continue
            if mode & ONE_HOLD:  # a loop iteration's slot in its tab pool
                xs[0], xs[1], xs[2], xs[3] = x0, x1, x2, x3
                _pool_node(v, mode, plan, caps_ptr, tables, shift, xs, finish, active, held,
                           free, on, span)  # fmt: skip
                x0, x1, x2, x3 = xs[0], xs[1], xs[2], xs[3]
                continue
            if mode & ~IN_SPAN:
                xs[0], xs[1], xs[2], xs[3] = x0, x1, x2, x3
                for lane in range(LANES):
                    if mode & JOIN_FIRST:  # rare: a call is affordable here
                        ready = _first_ready(v, lane, pred_ptr, pred_idx, finish, active)
                    else:
                        ready = 0.0
                        for j in range(pred_ptr[v], pred_ptr[v + 1]):
                            ready = max(ready, finish[pred_idx[j], lane])
                    if mode & GUARDED:
                        active[v, lane] = on[node_guard[v], lane]
                        if not active[v, lane]:
                            finish[v, lane] = ready
                            continue
                    end = ready
                    for j in range(res_ptr[v], res_ptr[v + 1]):
                        if res_role[j] != RELEASE:
                            r = res_id[j]
                            best, low = _earliest_slot(free, caps_ptr[r], caps_ptr[r + 1], lane)
                            chosen[j - res_ptr[v]] = best
                            end = max(end, low)
                    if node_dist[v] >= 0:
                        x = _next(xs[lane])
                        xs[lane] = x
                        end += tables[node_dist[v], np.int64((x * _MULT) >> shift)]
                    for j in range(res_ptr[v], res_ptr[v + 1]):
                        if res_role[j] == USE:
                            free[chosen[j - res_ptr[v]], lane] = end
                        elif res_role[j] == ACQUIRE:
                            free[chosen[j - res_ptr[v]], lane] = np.inf
                            held[v, lane] = chosen[j - res_ptr[v]]
                        elif res_partner[j] >= 0 and active[res_partner[j], lane]:
                            free[held[res_partner[j], lane], lane] = end
                    finish[v, lane] = end
                    if mode & IN_SPAN:
                        span[lane] = max(span[lane], end)
                x0, x1, x2, x3 = xs[0], xs[1], xs[2], xs[3]
                continue
            r0 = r1 = r2 = r3 = 0.0
            for j in range(pred_ptr[v], pred_ptr[v + 1]):
                p = pred_idx[j]
                r0 = max(r0, finish[p, 0])
                r1 = max(r1, finish[p, 1])
                r2 = max(r2, finish[p, 2])
                r3 = max(r3, finish[p, 3])
            d = node_dist[v]
            if d >= 0:
                x0 = _next(x0)
                x1 = _next(x1)
                x2 = _next(x2)
                x3 = _next(x3)
                r0 += tables[d, np.int64((x0 * _MULT) >> shift)]
                r1 += tables[d, np.int64((x1 * _MULT) >> shift)]
                r2 += tables[d, np.int64((x2 * _MULT) >> shift)]
                r3 += tables[d, np.int64((x3 * _MULT) >> shift)]
            finish[v, 0], finish[v, 1], finish[v, 2], finish[v, 3] = r0, r1, r2, r3
            if mode & IN_SPAN:
                span[0] = max(span[0], r0)
                span[1] = max(span[1], r1)
                span[2] = max(span[2], r2)
                span[3] = max(span[3], r3)
        xs[0], xs[1], xs[2], xs[3] = x0, x1, x2, x3
        for lane in range(min(LANES, hi - s)):
            out[s + lane] = span[lane]


@njit(cache=True, parallel=True)
def simulate_chunks(plan, caps_ptr, tables, shift, hedge_k, seed, out, n_chunks):
    """All samples of `out`, split into `n_chunks` independently seeded chunks run in parallel."""
    n = out.shape[0]
    for c in prange(n_chunks):
        lo = c * n // n_chunks
        hi = (c + 1) * n // n_chunks
        xs = seed_lanes(seed * 1000003 + c)
        simulate_range(plan, caps_ptr, tables, shift, hedge_k, xs, out, lo, hi)


@njit(cache=True, nogil=True)
def simulate_strategies(plan, caps_ptrs, tables, shift, hedge_ks, xs, out, lo, hi):
    """`simulate_range` for several strategies of one plan in one call: row k of `caps_ptrs`,
    `hedge_ks`, `xs` and `out` belongs to strategy k. (Ranking simulates many plans with few
    samples each, where a call per strategy would cost more than the samples.)"""
    for k in range(hedge_ks.shape[0]):
        simulate_range(plan, caps_ptrs[k], tables, shift, hedge_ks[k], xs[k], out[k], lo, hi)
