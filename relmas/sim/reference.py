"""A plainly written event loop with the kernel's semantics, used only by the tests.

No numba, no heaps, no counters: at every event each idle SA scans all SJs for
the ready one of highest priority, and the next event time is the minimum over
running finishes, pending releases and the horizon. Slow (O(n^2)) and obvious;
:mod:`relmas.sim.kernel` must agree with it to 1e-9 relative on start and
finish times. Semantics as documented in :mod:`relmas.sim.kernel`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .kernel import REL_TOL, KernelResult


def reference_run(
    n_sa: int,
    sa: Sequence[int],
    priority: Sequence[float],
    work: Sequence[float],
    bw: Sequence[float],
    release: Sequence[float],
    deadline: Sequence[float],
    preds: Sequence[Sequence[int]],
    bandwidth: float,
    started: Sequence[bool] | None = None,
    t0: float = 0.0,
    horizon: float = math.inf,
    stop_at_horizon: bool = False,
) -> KernelResult:
    """Simulate one schedule; same arguments as :func:`relmas.sim.kernel.run_schedule`
    except that predecessors are given as one list per SJ."""
    n = len(sa)
    started = [False] * n if started is None else [bool(s) for s in started]
    start = [math.nan] * n
    finish = [math.nan] * n
    done = [False] * n
    running: dict[int, int] = {}  # SA -> SJ
    rem: dict[int, float] = {}  # SJ -> remaining work
    for i in range(n):
        if started[i]:
            running[sa[i]] = i
            rem[i] = float(work[i])
            start[i] = t0
    busy = [0.0] * n_sa
    sat = 0.0
    t = float(t0)

    def ready(i: int) -> bool:
        return (not started[i] and math.isnan(start[i]) and release[i] <= t and deadline[i] > t
                and all(done[p] for p in preds[i]))

    while True:
        if t < horizon:
            for m in range(n_sa):
                if m in running:
                    continue
                best = None
                for i in range(n):
                    if sa[i] == m and ready(i):
                        # higher priority first; ties: lower index (the scan keeps the first one)
                        if best is None or priority[i] > priority[best]:
                            best = i
                if best is not None:
                    running[m] = best
                    rem[best] = float(work[best])
                    start[best] = t
        elif stop_at_horizon:
            break
        demand = sum(bw[i] for i in running.values())
        future = [release[i] for i in range(n)
                  if not started[i] and math.isnan(start[i]) and t < release[i] < horizon]
        t_release = min(future) if future else math.inf
        if not running:
            if t_release == math.inf:
                break
            t = t_release
            continue
        scale = bandwidth / demand if demand > bandwidth else 1.0

        def rate(i: int) -> float:
            return 1.0 if bw[i] == 0.0 else scale

        first_m, first_dt = None, math.inf
        for m, i in sorted(running.items()):
            d = rem[i] / rate(i)
            if d < first_dt:
                first_m, first_dt = m, d
        t_next, is_finish = t + first_dt, True
        if t_release < t_next:
            t_next, is_finish = t_release, False
        if stop_at_horizon and horizon < t_next:
            t_next, is_finish = horizon, False
        dt = t_next - t
        if dt > 0:
            for m, i in running.items():
                busy[m] += dt
                rem[i] -= rate(i) * dt
            if demand > bandwidth:
                sat += dt
        t = t_next
        if is_finish:
            rem[running[first_m]] = 0.0
        for m, i in list(running.items()):
            if rem[i] <= REL_TOL * max(work[i], 1.0):
                finish[i] = t
                done[i] = True
                rem[i] = 0.0
                del running[m]
    remaining = [0.0 if done[i] else float(work[i]) for i in range(n)]
    for i in running.values():
        remaining[i] = rem[i]
    return KernelResult(np.array(start), np.array(finish), np.array(remaining), np.array(busy), sat, t)
