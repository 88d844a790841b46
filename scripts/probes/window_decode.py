"""Probe: decode a trained policy's SA scores inside an earliest-finish window.

    python scripts/probes/window_decode.py POLICY.pt [--workload light] [--qos medium]
        [--windows inf 2 1 0.5 0.25 0.1 0] [--seeds 1005-1014] [--no-charge]

The paper's decode puts each SJ on the argmax of its M SA scores. Here the SJs are instead placed in the
policy's priority order by the "-H" list pass (baselines.sa_heuristic: estimated finish max(free_m, ready)
+ cycles, appended, no gap filling), and each goes to the SA of highest policy score among those whose
estimated finish is within ``window`` times the SJ's fastest latency of the earliest. ``inf`` is the
paper's decode (the list pass then only updates estimates), 0 the heuristic with the policy's scores
breaking exact ties. The policy's priorities are used as they are. Prints the SLA rate per window
and seed, and the share of started decisions whose SA the window changed.
"""
from __future__ import annotations

import argparse

import numpy as np
from numba import njit

from baselines.sa_heuristic import lower_bound_finish
from relmas.policy import RelmasScheduler, act, decode, encode
from relmas.scheduler import Scheduler

from probe_eval import ProbeScenario, parse_seeds


@njit(cache=True)
def _window_pass(order, u, cycles, arrival, pred_done_time, pred_ptr, pred_idx, run_work, sa_free, now, window):
    R, M = cycles.shape
    lb_fin = lower_bound_finish(cycles, arrival, pred_done_time, pred_ptr, pred_idx, run_work, now)
    free = np.empty(M)
    for m in range(M):
        free[m] = now + sa_free[m]
    est = lb_fin.copy()
    sa = np.empty(R, np.int64)
    for q in range(order.shape[0]):
        i = order[q]
        r = max(now, arrival[i], pred_done_time[i])
        for k in range(pred_ptr[i], pred_ptr[i + 1]):
            p = pred_idx[k]
            f = est[p] if p < R else now + run_work[p - R]
            if f > r:
                r = f
        best_f = np.inf
        fastest = np.inf
        for m in range(M):
            f = max(free[m], r) + cycles[i, m]
            if f < best_f:
                best_f = f
            if cycles[i, m] < fastest:
                fastest = cycles[i, m]
        lim = best_f + window * fastest
        pick = -1
        for m in range(M):
            f = max(free[m], r) + cycles[i, m]
            if f <= lim and (pick < 0 or u[i, m] > u[i, pick]):
                pick = m
        sa[i] = pick
        f = max(free[pick], r) + cycles[i, pick]
        free[pick] = f
        est[i] = f
    return sa


class WindowDecode(Scheduler):
    """The policy's priorities; SAs by the windowed list pass (module docstring)."""

    def __init__(self, inner: RelmasScheduler, window: float):
        self.inner, self.window = inner, float(window)
        self.changed = self.decided = 0

    def decision_overhead(self, rq):
        return self.inner.decision_overhead(rq)

    def schedule(self, rq):
        x, order = encode(rq, self.inner.spec, model_map=self.inner._map)
        out = act(self.inner.actor, x)
        prio, sa0 = decode(out, order, rq.size)
        if not np.isfinite(self.window) or rq.size == 0:
            return prio, sa0
        u = np.zeros((rq.size, out.shape[1] - 1))
        u[order] = out[:, 1:]
        seq = np.argsort(-prio, kind="stable").astype(np.int64)
        sa = _window_pass(seq, u, np.ascontiguousarray(rq.cycles, np.float64), rq.arrival, rq.pred_done_time,
                          rq.pred_ptr, rq.pred_idx, rq.run_work, rq.sa_free, float(rq.now), self.window)
        self.changed += int((sa != sa0).sum())
        self.decided += rq.size
        return prio, sa


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("policy")
    ap.add_argument("--workload", default="light")
    ap.add_argument("--qos", default="medium")
    ap.add_argument("--windows", nargs="+", type=float, default=[np.inf, 2, 1, 0.5, 0.25, 0.1, 0])
    ap.add_argument("--seeds", default="1005-1014")
    ap.add_argument("--no-charge", action="store_true")
    a = ap.parse_args()
    ps = ProbeScenario(a.workload, a.qos)
    costs, seeds = ps.costs, parse_seeds(a.seeds)
    inner = RelmasScheduler(a.policy, costs=costs, charge_overhead=not a.no_charge,
                            policy_table="outputs/tables/policy.csv")
    for w in a.windows:
        sched = WindowDecode(inner, w)
        rates = ps.sla_rates(sched, seeds)
        share = sched.changed / max(sched.decided, 1)
        print(f"window={w}: {np.mean(rates):.3f} {np.round(rates, 2).tolist()} SA changed for {share:.3f} of "
              f"decided SJs", flush=True)


if __name__ == "__main__":
    main()
