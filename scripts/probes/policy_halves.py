"""Probe: which half of a trained policy's decision (priority or SA) loses SLA rate against EDF-H.

    python scripts/probes/policy_halves.py POLICY.pt [light|heavy|mixed]

Runs the policy's priorities and SAs, each half replaced by EDF-H's (SAs then by the -H heuristic in the
kept priority order), with and without the decision-overhead charge, on the evaluation seeds 1000-1004.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from baselines.edf import edf_priority
from baselines.sa_heuristic import heuristic_sa
from relmas.cli.common import scenario
from relmas.cli.simulate import load_or_generate, period_for
from relmas.policy import RelmasScheduler
from relmas.scheduler import Scheduler
from relmas.sim import Simulator


class Halves(Scheduler):
    def __init__(self, inner: RelmasScheduler, prio_from: str, sa_from: str):
        self.inner, self.pf, self.sf = inner, prio_from, sa_from

    def decision_overhead(self, rq):
        return self.inner.decision_overhead(rq)

    def schedule(self, rq):
        p, s = self.inner.schedule(rq)
        prio = p if self.pf == "policy" else edf_priority(rq)
        return prio, (s if self.sf == "policy" else heuristic_sa(rq, prio))


def main() -> None:
    pol, wl = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "light")
    cfg, costs = scenario(argparse.Namespace(config="config/config.yaml", preset=None, system=None, table=None,
                                             layers_dir=None))
    period = period_for(cfg, wl, None)
    for charge in (True, False):
        inner = RelmasScheduler(pol, costs=costs, charge_overhead=charge, policy_table="outputs/tables/policy.csv")
        for pf, sf in (("policy", "policy"), ("policy", "edf"), ("edf", "policy"), ("edf", "edf")):
            rates = [Simulator(costs, period).run(load_or_generate(wl, "medium", s, cfg, costs, None),
                                                  Halves(inner, pf, sf), seed=s).sla_rate for s in range(1000, 1005)]
            print(f"charge={charge} priority={pf} sa={sf}: {np.mean(rates):.3f} {np.round(rates, 2)}", flush=True)


if __name__ == "__main__":
    main()
