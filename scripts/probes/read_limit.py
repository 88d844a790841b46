"""Probe: read only the K most urgent SJs at deployment, to cut the decision charge.

    python scripts/probes/read_limit.py POLICY.pt [--limits 0 32 64] [--workload light] [--qos medium]
        [--seeds 1005-1014]

The paper's policy reads the whole ready queue, and its decision costs R + 1 LSTM steps on the SA that runs
it. The `bc-ddpg` recipe stores only the 32 most urgent SJs of each training state (`max_seq: 32`), so the
SJs past them are ones the network never learnt from. Here the policy reads only the first K SJs of the
encoding (deadline order) and pays K + 1 steps; the others rank below them in deadline order and get
their SAs from the "-H" list pass over the combined order, as `relmas.env.RelmasEnv` treats SJs past
its `max_len`. The LSTM is causal, so the first K SJs' outputs are the ones a whole-queue read gives.
K = 0 means no limit (the paper's decode). Prints the SLA rate per limit and seed, charge on.
"""
from __future__ import annotations

import argparse

import numpy as np

from baselines.sa_heuristic import heuristic_sa
from relmas.policy import RelmasScheduler, act, decode, encode
from relmas.scheduler import Scheduler

from probe_eval import ProbeScenario, parse_seeds


class ReadLimit(Scheduler):
    """The policy on the K most urgent SJs, the -H heuristic in deadline order on the rest."""

    def __init__(self, inner: RelmasScheduler, limit: int):
        self.inner, self.limit = inner, int(limit)

    def decision_overhead(self, rq):
        if not self.inner.charge or rq.size == 0:
            return None
        steps = rq.size if self.limit <= 0 else min(rq.size, self.limit)
        cycles, energy = self.inner.decision_cost.of(steps + 1)
        return self.inner.overhead_sa, cycles, energy

    def schedule(self, rq):
        x, order = encode(rq, self.inner.spec, model_map=self.inner._map)
        R = rq.size
        if self.limit <= 0 or R <= self.limit:
            return decode(act(self.inner.actor, x), order, R)
        k = self.limit
        out = act(self.inner.actor, x[:k + 1])  # primer + the K most urgent SJs
        ranks, sa_k = decode(out, np.arange(k), k)  # rank and SA per position of the first K
        prio = np.empty(R)
        sa = np.empty(R, np.int64)
        prio[order[:k]] = (R - k) + ranks  # above every unread SJ
        prio[order[k:]] = np.arange(R - k - 1, -1, -1, dtype=np.float64)  # deadline order below them
        sa[order[:k]] = sa_k
        rest = order[k:]
        sa[rest] = heuristic_sa(rq, prio)[rest]
        return prio, sa


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("policy")
    ap.add_argument("--limits", nargs="+", type=int, default=[0, 32, 64])
    ap.add_argument("--workload", default="light")
    ap.add_argument("--qos", default="medium")
    ap.add_argument("--seeds", default="1005-1014")
    a = ap.parse_args()
    ps = ProbeScenario(a.workload, a.qos)
    costs, seeds = ps.costs, parse_seeds(a.seeds)
    inner = RelmasScheduler(a.policy, costs=costs, policy_table="outputs/tables/policy.csv")
    for k in a.limits:
        rates = ps.sla_rates(ReadLimit(inner, k), seeds)
        print(f"limit={k or 'none'}: {np.mean(rates):.3f} {np.round(rates, 2).tolist()}", flush=True)


if __name__ == "__main__":
    main()
