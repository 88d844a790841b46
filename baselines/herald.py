"""Herald: dataflow-preference layer assignment with load balancing across heterogeneous SAs.

Source: H. Kwon, L. Lai, M. Pellauer, T. Krishna, Y.-H. Chen and V. Chandra,
"Heterogeneous Dataflow Accelerators for Multi-DNN Workloads", HPCA 2021
(arXiv 1909.07437, earlier titled "Herald: Optimizing Heterogeneous DNN
Accelerators for Edge Devices"). RELMAS (DAC 2024) section 5.1 uses it as
baseline (3): "a layer scheduling algorithm designed for heterogeneous
architectures, focusing on load balancing of the SAs". No public Herald code
exists; this module implements the scheduler as the paper describes it, and the
points that could not be checked against its full text are listed below as
choices (``BASELINES.md`` section 3).

Herald's layer scheduler, as implemented:

1. **Dataflow preference.** Each layer goes to its preferred sub-accelerator,
   the one of lowest cost (``metric="latency"``: stall-free cycles, the default;
   ``metric="edp"``: energy x cycles, Herald's design-time objective).
2. **Load balancing.** The preference assignment can overload one SA. While the
   load imbalance ``(max load - min load) / max load`` exceeds ``imbalance``,
   a layer is moved off the most-loaded SA: among its layers and every other
   SA where the move lowers the pair's larger load, the move with the smallest
   relative cost increase ``cycles[i, t] / cycles[i, h]`` (the layer that loses
   least of its dataflow preference), ties by the lower resulting load. The loop
   stops when balanced or when no move helps (it always terminates: each move
   strictly decreases the sorted load vector).
3. **Layer ordering.** Herald orders layers across the DNNs either depth-first
   (model after model, each model's layers in order) or breadth-first
   (interleaving the models level by level of their layer graphs) and keeps the
   better one. "Better" here is the smaller estimated makespan of the resulting
   list schedule on the fixed SA assignment (contention-free estimate: each SA
   runs its layers back to back in the chosen order, a layer starting after its
   predecessors' estimated finish); ties go to depth-first.

Adaptations to layer-granular, non-preemptive, multi-SA online scheduling:

* Herald schedules a known set of DNNs at compile time. Here it is invoked every
  period on the ready queue: the "models" are the jobs in the queue (depth-first
  visits them in arrival order), and an SA's load starts at its residual busy
  time ``rq.sa_free`` (running SJ and queued overhead) before adding the queued
  layers assigned to it.
* Predecessors outside the queue (finished or running) enter the makespan
  estimate through ``rq.pred_done_time``.
* Herald is deadline-oblivious, like the original (its targets are frame rates
  of a fixed workload): deadlines are used neither for assignment nor ordering.
* Priority = position in the chosen order (``R - 1`` first, down to 0); the SA of
  every SJ is Herald's assignment, not the "-H" heuristic.
* The imbalance threshold and the latency metric are this toolkit's choices
  (the paper's exact values were not verifiable): ``imbalance=0.1``,
  ``metric="latency"``.

Deterministic; runs in numba.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from numba import njit

from relmas.scheduler import ReadyQueue, Scheduler
from relmas.typed_params import checked_params

__all__ = ["HeraldScheduler", "herald_assign", "herald_order"]


@njit(cache=True)
def _assign(cost, cycles, sa_free, imbalance, max_moves):
    R, M = cycles.shape
    sa = np.empty(R, np.int64)
    load = sa_free.copy()
    for i in range(R):
        b = 0
        for m in range(1, M):
            if cost[i, m] < cost[i, b]:
                b = m
        sa[i] = b
        load[b] += cycles[i, b]
    moves = 0
    while moves < max_moves:
        h = 0
        lo = load[0]
        for m in range(M):
            if load[m] > load[h]:
                h = m
            if load[m] < lo:
                lo = load[m]
        if load[h] <= 0.0 or (load[h] - lo) / load[h] <= imbalance:
            break
        bi = -1
        bt = -1
        bpen = np.inf
        bnew = np.inf
        for i in range(R):
            if sa[i] != h:
                continue
            ch = cycles[i, h]
            for t in range(M):
                if t == h:
                    continue
                nt = load[t] + cycles[i, t]
                if nt >= load[h]:
                    continue
                pen = cycles[i, t] / ch if ch > 0.0 else np.inf
                newmax = max(nt, load[h] - ch)
                if pen < bpen or (pen == bpen and newmax < bnew):
                    bpen = pen
                    bnew = newmax
                    bi = i
                    bt = t
        if bi < 0:
            break
        load[h] -= cycles[bi, h]
        load[bt] += cycles[bi, bt]
        sa[bi] = bt
        moves += 1
    return sa, load


@njit(cache=True)
def _levels(pred_ptr, pred_idx, R):
    lvl = np.zeros(R, np.int64)
    for _ in range(R + 1):
        changed = False
        for i in range(R):
            v = 0
            for k in range(pred_ptr[i], pred_ptr[i + 1]):
                p = pred_idx[k]
                if p < R and lvl[p] + 1 > v:
                    v = lvl[p] + 1
            if v != lvl[i]:
                lvl[i] = v
                changed = True
        if not changed:
            break
    return lvl


@njit(cache=True)
def _makespan(order, sa, cycles, pred_ptr, pred_idx, pred_done_time, sa_free, now):
    R, M = cycles.shape
    free = np.empty(M)
    for m in range(M):
        free[m] = now + sa_free[m]
    fin = np.full(R, now)
    # predecessors not yet placed (cannot happen for topological orders) count as now
    span = now
    for q in range(order.shape[0]):
        i = order[q]
        r = max(now, pred_done_time[i])
        for k in range(pred_ptr[i], pred_ptr[i + 1]):
            p = pred_idx[k]
            if p < R and fin[p] > r:
                r = fin[p]
        m = sa[i]
        f = max(free[m], r) + cycles[i, m]
        free[m] = f
        fin[i] = f
        if f > span:
            span = f
    return span


def herald_assign(rq: ReadyQueue, metric: Literal["latency", "edp"] = "latency",
                  imbalance: float = 0.1) -> np.ndarray:
    """int64 [R]: Herald's SA per SJ (dataflow preference, then load balancing; see the module docstring)."""
    cycles = np.ascontiguousarray(rq.cycles, np.float64)
    if metric == "latency":
        cost = cycles
    elif metric == "edp":
        if not np.any(rq.energy):
            raise ValueError("metric='edp' needs the queue's energy table, which is all zero")
        cost = np.ascontiguousarray(rq.energy * cycles)
    else:
        raise ValueError(f"metric must be 'latency' or 'edp', got {metric!r}")
    sa, _ = _assign(cost, cycles, np.ascontiguousarray(rq.sa_free, np.float64), float(imbalance),
                    rq.size * rq.num_sas)
    return sa


def herald_order(rq: ReadyQueue, sa: np.ndarray, ordering: Literal["best", "depth", "breadth"] = "best"
                 ) -> tuple[np.ndarray, str]:
    """SJ visiting order (int64 [R]) and which ordering was used.

    Depth-first is the queue's tie order (job after job, layers in order);
    breadth-first sorts by layer-graph level inside the queue, then tie order.
    ``"best"`` keeps the one of smaller estimated makespan (ties: depth-first).
    """
    R = rq.size
    depth = np.arange(R, dtype=np.int64)
    if ordering == "depth":
        return depth, "depth"
    lvl = _levels(rq.pred_ptr, rq.pred_idx, R)
    breadth = np.lexsort((depth, lvl)).astype(np.int64)
    if ordering == "breadth":
        return breadth, "breadth"
    if ordering != "best":
        raise ValueError(f"ordering must be 'best', 'depth' or 'breadth', got {ordering!r}")
    args = (np.ascontiguousarray(sa, np.int64), np.ascontiguousarray(rq.cycles, np.float64), rq.pred_ptr,
            rq.pred_idx, rq.pred_done_time, rq.sa_free, float(rq.now))
    d = _makespan(depth, *args)
    b = _makespan(breadth, *args)
    return (breadth, "breadth") if b < d else (depth, "depth")


@checked_params
class HeraldScheduler(Scheduler):
    """Herald (Kwon et al., HPCA 2021), applied to the ready queue every period.

    Args:
        metric: dataflow-preference cost, ``"latency"`` (cycles) or ``"edp"`` (energy x cycles).
        imbalance: load-balancing threshold on ``(max - min) / max`` of the SA loads (1 disables it).
        ordering: ``"best"`` of depth-/breadth-first (Herald), or force one of them.
    """

    name = "herald"

    def __init__(self, metric: Literal["latency", "edp"] = "latency", imbalance: float = 0.1,
                 ordering: Literal["best", "depth", "breadth"] = "best"):
        if not 0.0 <= imbalance <= 1.0:
            raise ValueError("imbalance must lie in [0, 1] (1 disables load balancing)")
        self.metric = metric
        self.imbalance = float(imbalance)
        self.ordering = ordering
        self.last_ordering = ""

    def schedule(self, rq: ReadyQueue) -> tuple[np.ndarray, np.ndarray]:
        """Herald's SA assignment and the chosen layer order as priorities."""
        sa = herald_assign(rq, self.metric, self.imbalance)
        order, self.last_ordering = herald_order(rq, sa, self.ordering)
        prio = np.empty(rq.size)
        prio[order] = np.arange(rq.size - 1, -1, -1, dtype=np.float64)
        return prio, sa
