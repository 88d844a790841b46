"""Probe: does averaging several independently trained policies' outputs beat each of them?

    python scripts/probes/ensemble.py POLICY.pt POLICY.pt [...] [--workload light] [--qos medium]
        [--seeds 1005-1014] [--no-charge] [--policy-table outputs/tables/policy.csv]

Each policy decides alone, then the ensemble decides with the mean of the policies' actor outputs
(priority and the M SA scores), decoded as usual (SA = argmax). The ensemble pays K policies' decision
cost on the SA that runs the policy (K decisions in a row), so its charge is K times one policy's. Same
encoder and hidden size for every policy (policies of one recipe trained with different seeds).
"""
from __future__ import annotations

import argparse

import numpy as np

from relmas.policy import RelmasScheduler, act, decode, encode
from relmas.scheduler import Scheduler

from probe_eval import ProbeScenario, parse_seeds


class Ensemble(Scheduler):
    """Mean of the members' actor outputs; K members' decision cost."""

    def __init__(self, members: list[RelmasScheduler]):
        self.members = members

    def decision_overhead(self, rq):
        ov = self.members[0].decision_overhead(rq)
        if ov is None:
            return None
        k = len(self.members)
        return ov[0], ov[1] * k, ov[2] * k

    def schedule(self, rq):
        first = self.members[0]
        x, order = encode(rq, first.spec, model_map=first._map)
        out = np.mean([act(m.actor, x) for m in self.members], axis=0)
        return decode(out, order, rq.size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("policies", nargs="+")
    ap.add_argument("--workload", default="light")
    ap.add_argument("--qos", default="medium")
    ap.add_argument("--seeds", default="1005-1014")
    ap.add_argument("--no-charge", action="store_true")
    ap.add_argument("--policy-table", default="outputs/tables/policy.csv",
                    help="characterisation of the policies' layers (the charge)")
    a = ap.parse_args()
    ps = ProbeScenario(a.workload, a.qos)
    costs, seeds = ps.costs, parse_seeds(a.seeds)
    members = [RelmasScheduler(p, costs=costs, charge_overhead=not a.no_charge,
                               policy_table=a.policy_table) for p in a.policies]
    runs = [(p, m) for p, m in zip(a.policies, members)] + [("ensemble", Ensemble(members))]
    for name, sched in runs:
        rates = ps.sla_rates(sched, seeds)
        print(f"{name}: {np.mean(rates):.3f} {np.round(rates, 2).tolist()}", flush=True)


if __name__ == "__main__":
    main()
