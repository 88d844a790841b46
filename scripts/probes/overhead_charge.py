"""Probe: what the decision-overhead charge alone does to a schedule (README "What holds RELMAS back").

EDF-H is made to pay, at every decision, the charge an h-sized RELMAS policy would pay on the first
Simba Small (relmas.policy.policy_decision_cost), then a fixed charge of a few cycles on each SA in turn.
Run from the repository root after the workflow's tables exist:

    python scripts/probes/overhead_charge.py [light|heavy|mixed]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from baselines.edf import edf_priority
from baselines.sa_heuristic import heuristic_sa
from relmas.cli.common import scenario
from relmas.cli.simulate import load_or_generate, period_for
from relmas.policy import RelmasScheduler, policy_decision_cost
from relmas.scheduler import Scheduler
from relmas.sim import Simulator

SEEDS = range(1000, 1005)


class ChargedEDF(Scheduler):
    """EDF-H that declares a decision overhead: ``cost(R + 1)`` or a fixed number of cycles, on SA ``sa``."""

    def __init__(self, sa: int, cost=None, cycles: float | None = None):
        self.sa, self.cost, self.cycles = sa, cost, cycles

    def decision_overhead(self, rq):
        if rq.size == 0 or (self.cost is None and self.cycles is None):
            return None
        return (self.sa, *self.cost.of(rq.size + 1)) if self.cost else (self.sa, float(self.cycles), 0.0)

    def schedule(self, rq):
        p = edf_priority(rq)
        return p, heuristic_sa(rq, p)


def main() -> None:
    wl = sys.argv[1] if len(sys.argv) > 1 else "light"
    cfg, costs = scenario(argparse.Namespace(config="config/config.yaml", preset=None, system=None, table=None,
                                             layers_dir=None))
    period = period_for(cfg, wl, None)
    sa0 = RelmasScheduler.policy_sa(costs)

    def rate(s: Scheduler) -> float:
        return float(np.mean([Simulator(costs, period).run(load_or_generate(wl, "medium", seed, cfg, costs, None), s,
                                                           seed=seed).sla_rate for seed in SEEDS]))

    print(f"{wl}/medium, EDF-H, seeds {list(SEEDS)}; policy SA = {sa0} ({costs.sa_classes[sa0]})")
    print(f"  no charge: {rate(ChargedEDF(sa0)):.3f}")
    for h in (32, 64, 128, 256):
        c = policy_decision_cost("outputs/tables/policy.csv", h, costs.num_sas)
        print(f"  charge of an h = {h} policy on SA {sa0}: {rate(ChargedEDF(sa0, cost=c)):.3f}", flush=True)
    for m in range(costs.num_sas):
        print(f"  1 cycle per decision on SA {m} ({costs.sa_classes[m]}): {rate(ChargedEDF(m, cycles=1.0)):.3f}",
              flush=True)


if __name__ == "__main__":
    main()
