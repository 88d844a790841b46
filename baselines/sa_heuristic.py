"""The "-H" SA heuristic shared by FCFS-H, PREMA-H and EDF-H: earliest estimated finish.

RELMAS (DAC 2024) section 5.1: "The heuristic consists in choosing the SA which
minimizes the finish time of the sub-job". Given the SJs of a ready queue in a
priority order, one pass places each SJ on the SA that minimises its estimated
finish time

    finish(i, m) = max(free_m, ready_i) + cycles[i, m]

where ``free_m`` starts at ``now + sa_free[m]`` (the running SJ and any queued
decision overhead) and becomes the estimated finish of the last SJ placed on m in
this pass (list scheduling, appended, no gap insertion), and ``ready_i`` is the
latest of ``now``, the job's arrival, ``pred_done_time[i]`` (predecessors
outside the queue: finished, or running until ``now + run_work``) and the
estimated finish of its predecessors in the queue. A predecessor that comes later
in the priority order, and so is not placed yet, counts with its lower-bound
finish (its own earliest ready time plus its fastest latency), computed once in
topological order.

The estimate ignores DRAM bandwidth contention, on purpose: it is cheap (no event
simulation per candidate SA), it is order-preserving (contention slows every
co-runner by the same factor min(1, B/D), so it rarely changes which SA finishes
first), and the contention an SJ will meet is unknown until its co-runners are
chosen, which is exactly what the pass is deciding.

Ties between SAs (``tie_break``): ``"index"`` (the default, what FCFS-H, PREMA-H and
EDF-H use) gives them to the lower SA index. ``"affinity"`` gives them to the SA of
the SJ's binding predecessor (the one that finishes last, running or placed earlier
in the pass) when that SA is among the tied. ``"fit"`` gives them to the tied SA
left idle the shortest before the SJ can start, ``max(0, ready_i - free_m)`` (best
fit), then the earlier finish, then the lower index. ``tie_tolerance`` (default 0:
exact ties) counts as tied every SA whose estimate is within that fraction of the
SJ's fastest latency of the earliest.

Exact ties are common: a layer whose predecessor runs on SA m is ready exactly when
m frees, so m and every idle SA of the same class give the same estimated finish.
Moving the layer to an idle SA looks free to the estimate but is not: the pass,
which appends and never fills gaps, then counts that SA busy from now until the
layer ends and sends the other SJs elsewhere, while it idles until the predecessor
finishes. A decision-overhead charge on SA 3 (where RELMAS runs; the lowest index of
its class) makes the idle SA 4 a strict win for a chain on SA 3, under every rule;
the chain's next layer then ties between SA 4 and SA 3, and the index rule sends it
back to SA 3 to idle. Light / QoS-Medium, seeds 1000-1004
(``scripts/probes/tie_break.py``), uncharged / 1-cycle charge on SA 3 / an h = 64
policy's charge: EDF-H index 0.726 / 0.642 / 0.610, affinity 0.704 / 0.708 / 0.656,
fit 0.712 / 0.722 / 0.656, fit with a 5% tolerance 0.712 / 0.712 / 0.680
(docs/baselines.md).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from relmas.scheduler import ReadyQueue


_MODE = {"index": 0, "affinity": 1, "fit": 2}  # each tie-break rule's mode number in the kernel

TIE_BREAKS = tuple(_MODE)
"""Tie-break rules of :func:`earliest_finish_sa` (module docstring)."""


def check_tie_break(tie_break: str, tie_tolerance: float) -> tuple[str, float]:
    """Validate a tie-break rule and tolerance (the heuristic schedulers' parameters); return them."""
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {', '.join(TIE_BREAKS)}, got {tie_break!r}")
    if isinstance(tie_tolerance, (bool, str)) or not isinstance(tie_tolerance, (int, float, np.number)):
        raise ValueError(f"tie_tolerance must be a number >= 0, got {tie_tolerance!r}")
    tol = float(tie_tolerance)
    if not tol >= 0.0 or tol == np.inf:
        raise ValueError(f"tie_tolerance must be a finite number >= 0, got {tie_tolerance!r}")
    return tie_break, tol


@njit(cache=True)
def lower_bound_finish(cycles, arrival, pred_done_time, pred_ptr, pred_idx, run_work, now):
    """float64 [R]: a lower bound of every SJ's finish, assuming free SAs (each on its fastest).

    Topological fixpoint: queue predecessors may appear anywhere in the queue, so it iterates until
    stable. The list pass counts a predecessor not yet placed with this bound.
    """
    R, M = cycles.shape
    lb_ready = np.empty(R)
    lb_fin = np.empty(R)
    for i in range(R):
        r = max(now, arrival[i], pred_done_time[i])
        lb_ready[i] = r
        mn = np.inf
        for m in range(M):
            if cycles[i, m] < mn:
                mn = cycles[i, m]
        lb_fin[i] = r + mn
    for _ in range(R + 1):
        changed = False
        for i in range(R):
            r = lb_ready[i]
            for k in range(pred_ptr[i], pred_ptr[i + 1]):
                p = pred_idx[k]
                f = lb_fin[p] if p < R else now + run_work[p - R]
                if f > r:
                    r = f
            if r > lb_ready[i]:
                d = r - lb_ready[i]
                lb_ready[i] = r
                lb_fin[i] += d
                changed = True
        if not changed:
            break
    return lb_fin


@njit(cache=True)
def _eft(order, cycles, arrival, pred_done_time, pred_ptr, pred_idx, run_work, sa_free, now, mode, tol):
    R, M = cycles.shape
    lb_fin = lower_bound_finish(cycles, arrival, pred_done_time, pred_ptr, pred_idx, run_work, now)
    free = np.empty(M)
    for m in range(M):
        free[m] = now + sa_free[m]
    est = lb_fin.copy()
    sa = np.empty(R, np.int64)
    placed = np.zeros(R, np.bool_)
    for q in range(order.shape[0]):
        i = order[q]
        r = max(now, arrival[i], pred_done_time[i])
        aff = -1  # SA of the binding predecessor (running, or placed earlier in this pass)
        aff_f = -np.inf
        for k in range(pred_ptr[i], pred_ptr[i + 1]):
            p = pred_idx[k]
            f = est[p] if p < R else now + run_work[p - R]
            if f > r:
                r = f
            if mode == 1:
                pm = p - R if p >= R else (sa[p] if placed[p] else -1)
                if pm >= 0 and f >= aff_f:
                    aff, aff_f = pm, f
        best = 0  # the earliest finish, lowest index first (the index rule with exact ties)
        best_f = np.inf
        fastest = np.inf
        for m in range(M):
            f = max(free[m], r) + cycles[i, m]
            if f < best_f:
                best_f = f
                best = m
            if cycles[i, m] < fastest:
                fastest = cycles[i, m]
        chosen_f = best_f
        # every SA finishing by lim counts as tied (tol = 0: exact ties)
        lim = best_f + tol * fastest if tol > 0.0 else best_f
        if mode == 2 or tol > 0.0:
            pick = -1
            pick_gap = np.inf
            pick_f = np.inf
            for m in range(M):
                f = max(free[m], r) + cycles[i, m]
                if not f <= lim:
                    continue
                if mode != 2:  # index (and affinity's fallback): the lowest tied index
                    pick, pick_f = m, f
                    break
                gap = max(0.0, r - free[m])  # fit: the idle time this placement leaves on m
                if gap < pick_gap or (gap == pick_gap and f < pick_f):
                    pick, pick_gap, pick_f = m, gap, f
            if pick >= 0:
                best, chosen_f = pick, pick_f
        if mode == 1 and aff >= 0 and aff != best:
            f = max(free[aff], r) + cycles[i, aff]
            if f <= lim:
                best, chosen_f = aff, f
        placed[i] = True
        sa[i] = best
        free[best] = chosen_f
        est[i] = chosen_f
    return sa, est


def earliest_finish_sa(rq: ReadyQueue, priority: np.ndarray, tie_break: str = "index",
                       tie_tolerance: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Place the queue's SJs, in priority order, on the SA of earliest estimated finish.

    Args:
        rq: the ready queue.
        priority: float64 [R], higher first; ties keep the queue's tie order.
        tie_break: which of the tied SAs: ``"index"`` (the lowest index), ``"affinity"`` (the binding
            predecessor's SA when it is tied, else the lowest index) or ``"fit"`` (the one left idle the
            shortest before the SJ can start); see the module docstring.
        tie_tolerance: an SA ties when its estimated finish is within ``tie_tolerance`` times the SJ's
            fastest latency of the earliest (0: exact ties only).

    Returns:
        ``(sa, est_finish)``: int64 [R] SA per SJ and float64 [R] estimated absolute finish
        times (contention-free; see the module docstring).
    """
    tie_break, tol = check_tie_break(tie_break, tie_tolerance)
    priority = np.asarray(priority, np.float64)
    if priority.shape != (rq.size,):
        raise ValueError(f"priority must have shape ({rq.size},), got {priority.shape}")
    order = np.argsort(-priority, kind="stable").astype(np.int64)
    return _eft(order, np.ascontiguousarray(rq.cycles, np.float64), rq.arrival, rq.pred_done_time,
                rq.pred_ptr, rq.pred_idx, rq.run_work, rq.sa_free, float(rq.now), _MODE[tie_break], tol)


def heuristic_sa(rq: ReadyQueue, priority: np.ndarray, tie_break: str = "index", tie_tolerance: float = 0.0
                 ) -> np.ndarray:
    """int64 [R], the SA of every SJ under the earliest-finish heuristic (see :func:`earliest_finish_sa`)."""
    return earliest_finish_sa(rq, priority, tie_break, tie_tolerance)[0]
