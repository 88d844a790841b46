"""The event kernel of the contention simulator (numba).

One compiled event loop serves every use: the online period execution (stop at
the period's horizon and hand back the SJs still running), a whole schedule
simulated out (MAGMA's fitness, the RELMAS reward, trace replay), and a batched
entry point that evaluates P candidate (priority, SA) assignments of one ready
queue in a single call, so a genetic algorithm pays no Python overhead per
individual.

Semantics (``SPEC.md`` section 3):

* SJ ``i`` runs on SA ``sa[i]``; it may start at time ``t`` only when its SA is
  idle, all its predecessors have finished, ``release[i] <= t``,
  ``t < deadline[i]`` (a later start is a drop) and ``t < horizon`` (no new
  starts at or after the horizon). No preemption.
* An idle SA starts, among the SJs assigned to it that are ready, the one of
  lowest ``rank`` (``rank`` orders SJs by descending priority, ties by the
  caller's tie order; see :func:`priority_rank`). Not-ready SJs are skipped.
* With running set S and demand D = sum of ``bw`` over S, every running SJ
  progresses at rate ``min(1, B / D)`` cycles of work per cycle. An SJ of zero
  bandwidth (the decision-overhead pseudo-SJ) uses no DRAM and progresses at
  rate 1. Rates change only at start, finish and release events, so finish
  times are exact: there is no time stepping.
* Running SJs whose remaining work is within ``REL_TOL * max(work, 1)`` of zero
  at an event finish at that event (simultaneous finishes despite rounding).
* Entries flagged ``started`` are already running at ``t0`` on their SA with
  ``work`` cycles of work left; other entries may depend on them.

Cost: per-SA binary heaps keyed by rank, predecessor counters with a successor
CSR and a release-sorted pointer give O(log n) per SJ plus O(M) per event.
All arithmetic is float64.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

REL_TOL = 1e-9
"""Relative tolerance under which a running SJ counts as finished at an event."""


# --------------------------------------------------------------------------- #
# Heaps: one binary min-heap of SJ indices per SA, keyed by rank[i].


@njit(cache=True)
def _heap_push(heap, hlen, m, i, rank):
    k = hlen[m]
    hlen[m] = k + 1
    key = rank[i]
    while k > 0:
        p = (k - 1) >> 1
        j = heap[m, p]
        if rank[j] <= key:
            break
        heap[m, k] = j
        k = p
    heap[m, k] = i


@njit(cache=True)
def _heap_pop(heap, hlen, m, rank):
    top = heap[m, 0]
    n = hlen[m] - 1
    hlen[m] = n
    if n > 0:
        last = heap[m, n]
        key = rank[last]
        k = 0
        while True:
            c = 2 * k + 1
            if c >= n:
                break
            if c + 1 < n and rank[heap[m, c + 1]] < rank[heap[m, c]]:
                c += 1
            if rank[heap[m, c]] >= key:
                break
            heap[m, k] = heap[m, c]
            k = c
        heap[m, k] = last
    return top


# --------------------------------------------------------------------------- #
# The event loop.


@njit(cache=True)
def _simulate(n_sa, sa, rank, work, bw, release, deadline, started,
              npred0, succ_ptr, succ_idx, rel_order,
              t0, horizon, bandwidth, stop_at_horizon,
              start, finish, remaining, busy,
              npred, released, heap, hlen, run_sj, run_rem):
    """Run the event loop; fill start/finish/remaining/busy; return (saturated time, end time)."""
    n = sa.shape[0]
    nan = np.nan
    inf = np.inf
    for i in range(n):
        start[i] = nan
        finish[i] = nan
        remaining[i] = work[i]
        npred[i] = npred0[i]
        released[i] = 0
    for m in range(n_sa):
        busy[m] = 0.0
        hlen[m] = 0
        run_sj[m] = -1
        run_rem[m] = 0.0
    run_tol = np.empty(n_sa)
    for i in range(n):
        if started[i]:
            m = sa[i]
            run_sj[m] = i
            run_rem[m] = work[i]
            run_tol[m] = REL_TOL * max(work[i], 1.0)
            start[i] = t0
    t = t0
    sat = 0.0
    rp = 0
    nrel = rel_order.shape[0]
    while True:
        # 1. releases due by t
        while rp < nrel:
            i = rel_order[rp]
            if release[i] > t:
                break
            rp += 1
            if started[i]:
                continue
            released[i] = 1
            if npred[i] == 0:
                _heap_push(heap, hlen, sa[i], i, rank)
        # 2. idle SAs start their best ready SJ (expired ones are dropped)
        if t < horizon:
            for m in range(n_sa):
                if run_sj[m] < 0:
                    while hlen[m] > 0:
                        i = _heap_pop(heap, hlen, m, rank)
                        if deadline[i] > t:
                            run_sj[m] = i
                            run_rem[m] = work[i]
                            run_tol[m] = REL_TOL * max(work[i], 1.0)
                            start[i] = t
                            break
        elif stop_at_horizon:
            break
        # 3. next event: demand, and the running SJ closest to finishing (contended SJs all
        #    progress at the same rate, so the one with least work left finishes first)
        demand = 0.0
        nrun = 0
        min_c = inf
        m_c = -1
        min_z = inf
        m_z = -1
        for m in range(n_sa):
            i = run_sj[m]
            if i >= 0:
                nrun += 1
                r = run_rem[m]
                if bw[i] == 0.0:
                    if r < min_z:
                        min_z = r
                        m_z = m
                else:
                    demand += bw[i]
                    if r < min_c:
                        min_c = r
                        m_c = m
        t_r = release[rel_order[rp]] if rp < nrel else inf
        if t_r >= horizon:
            t_r = inf
        if nrun == 0:
            if t_r == inf:
                break
            t = t_r
            continue
        scale = bandwidth / demand if demand > bandwidth else 1.0
        dt_c = min_c / scale
        if dt_c < min_z or (dt_c == min_z and m_c < m_z):
            dt_f = dt_c
            mf = m_c
        else:
            dt_f = min_z
            mf = m_z
        t_next = t + dt_f
        kind = 0
        if t_r < t_next:
            t_next = t_r
            kind = 1
        if stop_at_horizon and horizon < t_next:
            t_next = horizon
            kind = 2
        dt = t_next - t
        if dt > 0.0 and demand > bandwidth:
            sat += dt
        t = t_next
        # 4. advance every running SJ to t; finish those done
        for m in range(n_sa):
            i = run_sj[m]
            if i < 0:
                continue
            if dt > 0.0:
                busy[m] += dt
                run_rem[m] -= (1.0 if bw[i] == 0.0 else scale) * dt
            if kind == 0 and m == mf:
                run_rem[m] = 0.0
            if run_rem[m] <= run_tol[m]:
                finish[i] = t
                remaining[i] = 0.0
                run_sj[m] = -1
                run_rem[m] = 0.0
                for k in range(succ_ptr[i], succ_ptr[i + 1]):
                    s = succ_idx[k]
                    npred[s] -= 1
                    if npred[s] == 0 and released[s] == 1 and not started[s]:
                        _heap_push(heap, hlen, sa[s], s, rank)
    for m in range(n_sa):
        i = run_sj[m]
        if i >= 0:
            remaining[i] = run_rem[m]
    return sat, t


@njit(cache=True)
def _successors(n, pred_ptr, pred_idx):
    """Successor CSR and predecessor counts from a predecessor CSR."""
    npred = np.zeros(n, np.int64)
    cnt = np.zeros(n + 1, np.int64)
    for i in range(n):
        npred[i] = pred_ptr[i + 1] - pred_ptr[i]
        for k in range(pred_ptr[i], pred_ptr[i + 1]):
            cnt[pred_idx[k] + 1] += 1
    for i in range(n):
        cnt[i + 1] += cnt[i]
    succ_idx = np.empty(cnt[n], np.int64)
    fill = cnt[:n].copy()
    for i in range(n):
        for k in range(pred_ptr[i], pred_ptr[i + 1]):
            p = pred_idx[k]
            succ_idx[fill[p]] = i
            fill[p] += 1
    return npred, cnt, succ_idx


@njit(cache=True)
def _rank_from_priority(priority, rank, offset):
    """rank[i] = offset + position of i when sorted by (-priority, i).

    A stable merge sort (insertion-sorted runs of 8, then bottom-up merges) on SJ
    indices: much cheaper than numba's generic argsort for queues of ~100.
    """
    n = priority.shape[0]
    a = np.arange(n)
    b = np.empty(n, np.int64)
    run = 8
    for lo in range(0, n, run):
        hi = min(lo + run, n)
        for i in range(lo + 1, hi):
            x = a[i]
            px = priority[x]
            j = i - 1
            while j >= lo and priority[a[j]] < px:
                a[j + 1] = a[j]
                j -= 1
            a[j + 1] = x
    width = run
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i = lo
            j = mid
            k = lo
            while i < mid and j < hi:
                if priority[a[j]] > priority[a[i]]:
                    b[k] = a[j]
                    j += 1
                else:
                    b[k] = a[i]
                    i += 1
                k += 1
            while i < mid:
                b[k] = a[i]
                i += 1
                k += 1
            while j < hi:
                b[k] = a[j]
                j += 1
                k += 1
        a, b = b, a
        width *= 2
    for k in range(n):
        rank[a[k]] = offset + k


@njit(cache=True)
def _run_one(n_sa, sa, priority, work, bw, release, deadline, started, pred_ptr, pred_idx,
             t0, horizon, bandwidth, stop_at_horizon):
    n = sa.shape[0]
    npred0, succ_ptr, succ_idx = _successors(n, pred_ptr, pred_idx)
    rank = np.empty(n, np.int64)
    _rank_from_priority(priority, rank, 0)
    rel_order = np.argsort(release, kind="mergesort")
    start = np.empty(n)
    finish = np.empty(n)
    remaining = np.empty(n)
    busy = np.empty(n_sa)
    npred = np.empty(n, np.int64)
    released = np.empty(n, np.uint8)
    heap = np.empty((n_sa, max(n, 1)), np.int64)
    hlen = np.empty(n_sa, np.int64)
    run_sj = np.empty(n_sa, np.int64)
    run_rem = np.empty(n_sa)
    sat, t_end = _simulate(n_sa, sa, rank, work, bw, release, deadline, started,
                           npred0, succ_ptr, succ_idx, rel_order,
                           t0, horizon, bandwidth, stop_at_horizon,
                           start, finish, remaining, busy,
                           npred, released, heap, hlen, run_sj, run_rem)
    return start, finish, remaining, busy, sat, t_end


class KernelResult(NamedTuple):
    """Output of :func:`run_schedule`.

    Attributes:
        start: float64 [n], start time (``t0`` for entries flagged started); NaN if never started.
        finish: float64 [n], finish time; NaN if not started, dropped, or still running at the horizon.
        remaining: float64 [n], stall-free work left: 0 if finished, ``work`` if never started,
            what is left for SJs still running at the horizon.
        busy: float64 [M], cycles each SA had a running SJ in [t0, t_end].
        saturated: cycles with DRAM demand above the bandwidth (D > B).
        t_end: time the loop stopped (the horizon, or the last event).
    """

    start: np.ndarray
    finish: np.ndarray
    remaining: np.ndarray
    busy: np.ndarray
    saturated: float
    t_end: float


def run_schedule(
    n_sa: int,
    sa: np.ndarray,
    priority: np.ndarray,
    work: np.ndarray,
    bw: np.ndarray,
    release: np.ndarray,
    deadline: np.ndarray,
    pred_ptr: np.ndarray,
    pred_idx: np.ndarray,
    bandwidth: float,
    started: np.ndarray | None = None,
    t0: float = 0.0,
    horizon: float = math.inf,
    stop_at_horizon: bool = False,
) -> KernelResult:
    """Simulate one schedule of n SJs with the event kernel.

    Args:
        n_sa: number of SAs M.
        sa: int64 [n], SA of each SJ.
        priority: float64 [n], higher starts first; ties go to the lower index (the tie order).
        work: float64 [n], stall-free cycles on the assigned SA (remaining work for started entries).
        bw: float64 [n], required DRAM bandwidth in bytes per cycle.
        release: float64 [n], earliest start (arrival); ``inf`` for an entry that never starts.
        deadline: float64 [n], the SJ may start only while ``t < deadline``.
        pred_ptr: int64 [n+1], predecessor CSR row pointers.
        pred_idx: int64 [E], predecessor indices into the n SJs.
        bandwidth: shared DRAM bandwidth B in bytes per cycle.
        started: bool [n], entries already running at ``t0`` (at most one per SA).
        t0: start time.
        horizon: no new starts at or after it.
        stop_at_horizon: stop at the horizon (online period) instead of running every started SJ
            to completion (simulate-out).

    Returns:
        A :class:`KernelResult`.
    """
    sa = np.ascontiguousarray(sa, dtype=np.int64)
    n = sa.shape[0]
    arrs = {}
    for name, a in (("priority", priority), ("work", work), ("bw", bw), ("release", release),
                    ("deadline", deadline)):
        a = np.ascontiguousarray(a, dtype=np.float64)
        if a.shape != (n,):
            raise ValueError(f"{name} has shape {a.shape}, expected ({n},)")
        arrs[name] = a
    pred_ptr = np.ascontiguousarray(pred_ptr, dtype=np.int64)
    pred_idx = np.ascontiguousarray(pred_idx, dtype=np.int64)
    if started is None:
        started = np.zeros(n, dtype=np.bool_)
    started = np.ascontiguousarray(started, dtype=np.bool_)
    _check_inputs(n_sa, sa, arrs["priority"], arrs["work"], arrs["bw"], pred_ptr, pred_idx, started, bandwidth)
    out = _run_one(int(n_sa), sa, arrs["priority"], arrs["work"], arrs["bw"], arrs["release"],
                   arrs["deadline"], started, pred_ptr, pred_idx, float(t0), float(horizon),
                   float(bandwidth), bool(stop_at_horizon))
    start, finish, remaining, busy, sat, t_end = out
    return KernelResult(start, finish, remaining, busy, float(sat), float(t_end))


def _check_inputs(n_sa, sa, priority, work, bw, pred_ptr, pred_idx, started, bandwidth) -> None:
    n = sa.shape[0]
    if n_sa < 1:
        raise ValueError("n_sa must be >= 1")
    if n and (sa.min() < 0 or sa.max() >= n_sa):
        raise ValueError(f"sa values must lie in [0, {n_sa})")
    if np.isnan(priority).any():
        raise ValueError("priority contains NaN")
    if (work < 0).any() or not np.isfinite(work).all():
        raise ValueError("work must be finite and >= 0")
    if (bw < 0).any() or not np.isfinite(bw).all():
        raise ValueError("bw must be finite and >= 0")
    if not bandwidth > 0:
        raise ValueError("bandwidth must be > 0")
    if pred_ptr.shape != (n + 1,) or pred_ptr[0] != 0 or pred_ptr[-1] != pred_idx.shape[0] \
            or (np.diff(pred_ptr) < 0).any():
        raise ValueError("pred_ptr is not a valid CSR row pointer for n SJs")
    if pred_idx.size and (pred_idx.min() < 0 or pred_idx.max() >= n):
        raise ValueError("pred_idx refers to an SJ outside [0, n)")
    if started.shape != (n,):
        raise ValueError("started has the wrong shape")
    if started.any():
        s = sa[started]
        if np.unique(s).shape[0] != s.shape[0]:
            raise ValueError("more than one started SJ on one SA")


# --------------------------------------------------------------------------- #
# Batched evaluation of P candidate assignments of one ready queue.


@njit(cache=True)
def _batch(n_sa, R, cycles, bwtab, priority, sa_rq,
           base_sa, base_work, base_bw, base_rank, release, deadline, started,
           npred0, succ_ptr, succ_idx, rel_order,
           t0, bandwidth, job_pos, n_jobs, run_job_pos,
           out_finish, out_job_finish):
    """Simulate out P assignments (rows of priority / sa_rq) of the same R-SJ queue.

    Entries [0, R) are the queue's SJs; entries [R, n) are fixed (running SJs,
    decision-overhead pseudo-SJs, inactive slots) and taken from the base arrays.
    """
    P = priority.shape[0]
    n = base_sa.shape[0]
    sa = base_sa.copy()
    work = base_work.copy()
    bw = base_bw.copy()
    rank = base_rank.copy()
    start = np.empty(n)
    finish = np.empty(n)
    remaining = np.empty(n)
    busy = np.empty(n_sa)
    npred = np.empty(n, np.int64)
    released = np.empty(n, np.uint8)
    heap = np.empty((n_sa, max(n, 1)), np.int64)
    hlen = np.empty(n_sa, np.int64)
    run_sj = np.empty(n_sa, np.int64)
    run_rem = np.empty(n_sa)
    bad = np.empty(n_jobs, np.bool_)
    for p in range(P):
        for k in range(R):
            m = sa_rq[p, k]
            sa[k] = m
            work[k] = cycles[k, m]
            bw[k] = bwtab[k, m]
        _rank_from_priority(priority[p], rank, 0)
        _simulate(n_sa, sa, rank, work, bw, release, deadline, started,
                  npred0, succ_ptr, succ_idx, rel_order,
                  t0, np.inf, bandwidth, False,
                  start, finish, remaining, busy,
                  npred, released, heap, hlen, run_sj, run_rem)
        for j in range(n_jobs):
            out_job_finish[p, j] = -np.inf
            bad[j] = False
        for k in range(R):
            f = finish[k]
            out_finish[p, k] = f
            j = job_pos[k]
            if np.isnan(f):
                bad[j] = True
            elif f > out_job_finish[p, j]:
                out_job_finish[p, j] = f
        for m in range(n_sa):
            j = run_job_pos[m]
            if j >= 0:
                f = finish[R + m]
                if f > out_job_finish[p, j]:
                    out_job_finish[p, j] = f
        for j in range(n_jobs):
            if bad[j]:
                out_job_finish[p, j] = np.nan


@njit(cache=True)
def _batch_validate(n_sa, priority, sa_rq):
    for p in range(sa_rq.shape[0]):
        for k in range(sa_rq.shape[1]):
            if sa_rq[p, k] < 0 or sa_rq[p, k] >= n_sa:
                return 1
            if np.isnan(priority[p, k]):
                return 2
    return 0


def warmup() -> None:
    """Compile (or load from the numba cache) every kernel entry point."""
    n_sa = 2
    sa = np.array([0, 1, 0], np.int64)
    z = np.zeros(3)
    run_schedule(n_sa, sa, np.array([1.0, 0.5, 0.2]), np.array([3.0, 2.0, 1.0]), np.array([1.0, 2.0, 0.0]),
                 z, np.full(3, np.inf), np.array([0, 0, 0, 1]), np.array([0]), 2.0)
    run_schedule(n_sa, sa, np.array([1.0, 0.5, 0.2]), np.array([3.0, 2.0, 1.0]), np.array([1.0, 2.0, 0.0]),
                 z, np.full(3, np.inf), np.array([0, 0, 0, 1]), np.array([0]), 2.0,
                 horizon=1.0, stop_at_horizon=True)
