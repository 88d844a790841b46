"""Probe: which half of a policy's decision (priority or SA) loses SLA rate against the expert it imitated.

    python scripts/probes/expert_halves.py POLICY.pt [EXPERT] [light|heavy|mixed]

At every decision of QoS-Medium episodes (evaluation seeds 1000-1004), both the policy and the expert
(default ``magma-seeded``; MAGMA variants at 20 x 30, the ``bc-ddpg`` recipe's setting) decide the same
ready queue, and the simulator runs one of: the expert's decision, the policy's priorities with the
expert's SAs, the expert's priorities with the policy's SAs, the policy's decision. Every run pays the
policy's decision-overhead charge, so the four differ only in the decision.
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

MODES = {"expert": ("expert", "expert"), "policy priority + expert SA": ("policy", "expert"),
         "expert priority + policy SA": ("expert", "policy"), "policy": ("policy", "policy")}


class Halves(Scheduler):
    """Priorities from one of (policy, expert), SAs from one of them; the policy's charge."""

    name = "halves"

    def __init__(self, policy: RelmasScheduler, expert: Scheduler, prio_from: str, sa_from: str):
        self.policy, self.expert, self.pf, self.sf = policy, expert, prio_from, sa_from

    def reset(self, seed=None):
        self.expert.reset(seed)

    def decision_overhead(self, rq):
        return self.policy.decision_overhead(rq)

    def schedule(self, rq):
        got = {"policy": self.policy.schedule(rq), "expert": self.expert.schedule(rq)}
        return got[self.pf][0], got[self.sf][1]


def main() -> None:
    pol = sys.argv[1]
    expert_name = sys.argv[2] if len(sys.argv) > 2 else "magma-seeded"
    wl = sys.argv[3] if len(sys.argv) > 3 else "light"
    cfg, costs = scenario(argparse.Namespace(config="config/config.yaml", preset=None, system=None, table=None,
                                             layers_dir=None))
    period = period_for(cfg, wl, None)
    policy = RelmasScheduler(pol, costs=costs, charge_overhead=True, policy_table="outputs/tables/policy.csv")
    kw = {"generations": 20, "population": 30} if expert_name.startswith("magma") else {}
    for label, (pf, sf) in MODES.items():
        sch = Halves(policy, get_scheduler(expert_name, **kw), pf, sf)
        rates = [Simulator(costs, period).run(load_or_generate(wl, "medium", s, cfg, costs, None), sch,
                                              seed=s).sla_rate for s in range(1000, 1005)]
        print(f"{label}: {np.mean(rates):.3f} {np.round(rates, 2)}", flush=True)


if __name__ == "__main__":
    main()
