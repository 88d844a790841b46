"""Probe: how often does a stochastic expert (MAGMA) agree with itself on the SAs of the SJs it starts?

    python scripts/probes/expert_consistency.py POLICY.pt [EXPERT] [light|heavy|mixed]

Drives Light/Medium (or the given workload set) episodes of seeds 1000-1002 with the expert (default
``magma-multiseed``, with the default recipe's imitation settings, 20 generations x 30 individuals), the
policy's decision overhead charged as when the policy runs (the policy is used for nothing else). At every
decision a second instance of the same expert, reset with another seed, decides the same queue. Over the SJs
that the first decision starts within the period: how often the second picks the same SA (*exact*), and how
often its SA is one that the first decision accepts (``relmas.labels.accepted_sas`` at tolerance 0, the
``bc_sa_tolerance: 0`` target). This bounds what a clone can score on those two measures
(``scripts/probes/bc_capacity.py``): labels that differ between two runs of the expert are partly noise.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from relmas.cli.common import scenario
from relmas.cli.simulate import load_or_generate, period_for
from relmas.labels import _slack_weight, accepted_sas
from relmas.policy import RelmasScheduler
from relmas.scheduler import get_scheduler
from relmas.sim import Simulator


def main() -> None:
    pol = sys.argv[1]
    expert_name = sys.argv[2] if len(sys.argv) > 2 else "magma-multiseed"
    wl = sys.argv[3] if len(sys.argv) > 3 else "light"
    cfg, costs = scenario(argparse.Namespace(config="config/config.yaml", preset=None, system=None, table=None,
                                             layers_dir=None))
    period = period_for(cfg, wl, None)
    policy = RelmasScheduler(pol, costs=costs, charge_overhead=True, policy_table="outputs/tables/policy.csv")
    args = {"generations": 20, "population": 30} if expert_name.startswith("magma") else {}
    first, second = get_scheduler(expert_name, **args), get_scheduler(expert_name, **args)
    started_n = exact = accepted = 0
    for seed in (1000, 1001, 1002):
        sim = Simulator(costs, period)
        sim.reset(load_or_generate(wl, "medium", seed, cfg, costs, None))
        first.reset(seed)
        second.reset(seed + 1_000_003)
        while (rq := sim.observe()) is not None:
            sim.charge_overhead(*policy.decision_overhead(rq))
            p1, sa1 = first.schedule(rq)
            _, sa2 = second.schedule(rq)
            info = sim.step(p1, sa1, simulate_out=False)
            started = ~np.isnan(info.start)
            if not started.any():
                continue
            ok = accepted_sas(rq, p1, sa1, started, 0.0, _slack_weight(first))
            idx = np.flatnonzero(started)
            started_n += idx.size
            exact += int((sa1[idx] == sa2[idx]).sum())
            accepted += int(((ok[idx] >> sa2[idx]) & 1).sum())
        print(f"seed {seed}: {started_n} started SJs so far", file=sys.stderr, flush=True)
    print(f"{expert_name} against itself (another seed), over {started_n} started SJs: exact SA "
          f"{exact / max(started_n, 1):.3f}, in the first run's accepted set {accepted / max(started_n, 1):.3f}")


if __name__ == "__main__":
    main()
