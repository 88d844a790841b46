"""Probe: how the "-H" heuristics and MAGMA variants fare when SA 3 carries a decision-overhead charge.

    python scripts/probes/tie_break.py [light|heavy|mixed] [POLICY.pt] [--heuristics-only]

Runs FCFS-H, EDF-H and PREMA-H with each SA tie-break (``index``, ``affinity``, ``fit``, and ``fit`` with a
5% tie tolerance; baselines/sa_heuristic.py) and MAGMA-seeded / MAGMA-multiseed at 20 x 30 on QoS-Medium, evaluation seeds 1000-1004: without a charge,
with a 1-cycle charge on SA 3 (Simba Small 0, where RELMAS runs), and, given a policy, with that policy's
per-decision charge, i.e. as the expert's labels are computed while the policy trains.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from relmas.cli.common import scenario
from relmas.cli.simulate import load_or_generate, period_for
from relmas.policy import RelmasScheduler
from relmas.scheduler import Scheduler, get_scheduler
from relmas.sim import Simulator

TIE_RULES = [{}, {"tie_break": "affinity"}, {"tie_break": "fit"}, {"tie_break": "fit", "tie_tolerance": 0.05}]
HEURISTICS = [(name, kw) for name in ("fcfs-h", "edf-h", "prema-h") for kw in TIE_RULES]
MAGMAS = [("magma-seeded", {"generations": 20, "population": 30}),
          ("magma-multiseed", {"generations": 20, "population": 30})]


class Charged(Scheduler):
    """``inner``'s decisions, with ``charge(rq)`` charged to the simulator before each."""

    def __init__(self, inner: Scheduler, charge):
        self.inner, self.charge, self.name = inner, charge, inner.name

    def reset(self, seed=None):
        self.inner.reset(seed)

    def decision_overhead(self, rq):
        return self.charge(rq)

    def schedule(self, rq):
        return self.inner.schedule(rq)


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--heuristics-only"]
    schedulers = HEURISTICS + ([] if "--heuristics-only" in sys.argv else MAGMAS)
    wl = args[0] if args else "light"
    cfg, costs = scenario(argparse.Namespace(config="config/config.yaml", preset=None, system=None, table=None,
                                             layers_dir=None))
    period = period_for(cfg, wl, None)
    charges = {"none": lambda rq: None, "1 cycle on SA 3": lambda rq: (3, 1.0, 0.0)}
    if len(args) > 1:
        pol = RelmasScheduler(args[1], costs=costs, charge_overhead=True,
                              policy_table="outputs/tables/policy.csv")
        charges["policy's charge"] = pol.decision_overhead
    for name, kw in schedulers:
        line = []
        for label, charge in charges.items():
            sch = Charged(get_scheduler(name, **kw), charge)
            rates = [Simulator(costs, period).run(load_or_generate(wl, "medium", s, cfg, costs, None), sch,
                                                  seed=s).sla_rate for s in range(1000, 1005)]
            line.append(f"{label} {np.mean(rates):.3f}")
        print(f"{name} {kw}: " + ", ".join(line), flush=True)


if __name__ == "__main__":
    main()
