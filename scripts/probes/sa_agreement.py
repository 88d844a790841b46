"""Probe: how often a policy picks its expert's SA, over all SJs and over the SJs the period starts.

    python scripts/probes/sa_agreement.py POLICY.pt [EXPERT] [light|heavy|mixed]

Drives Light/Medium (or the given workload set) episodes of seeds 1000-1002 with the expert (default
``edf-h``), the policy's decision overhead charged as when the policy runs, and at every decision compares
the policy's SA with the expert's: over every SJ of the queue, and over the SJs that the expert's decision
started within the period (the only ones whose SA acts before the next decision), each split by the SJ's
position in the deadline-sorted queue (below 32, the default ``max_seq``, and from 32 on).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from relmas.cli.common import scenario
from relmas.cli.simulate import load_or_generate, period_for
from relmas.policy import RelmasScheduler
from relmas.scheduler import get_scheduler
from relmas.sim import Simulator

CUT = 32


def main() -> None:
    pol = sys.argv[1]
    expert_name = sys.argv[2] if len(sys.argv) > 2 else "edf-h"
    wl = sys.argv[3] if len(sys.argv) > 3 else "light"
    cfg, costs = scenario(argparse.Namespace(config="config/config.yaml", preset=None, system=None, table=None,
                                             layers_dir=None))
    period = period_for(cfg, wl, None)
    policy = RelmasScheduler(pol, costs=costs, charge_overhead=True, policy_table="outputs/tables/policy.csv")
    expert = get_scheduler(expert_name)
    # [SJs, agreeing] per (position bucket, started in the period)
    count = np.zeros((2, 2, 2), dtype=np.int64)
    for seed in (1000, 1001, 1002):
        sim = Simulator(costs, period)
        sim.reset(load_or_generate(wl, "medium", seed, cfg, costs, None))
        expert.reset(seed)
        while (rq := sim.observe()) is not None:
            sim.charge_overhead(*policy.decision_overhead(rq))
            p_exp, sa_exp = expert.schedule(rq)
            _, sa_pol = policy.schedule(rq)
            info = sim.step(p_exp, sa_exp, simulate_out=False)
            pos = np.empty(rq.size, dtype=np.int64)
            pos[np.argsort(rq.deadline, kind="stable")] = np.arange(rq.size)
            far = (pos >= CUT).astype(np.int64)
            started = (~np.isnan(info.start)).astype(np.int64)
            agree = (sa_exp == sa_pol).astype(np.int64)
            np.add.at(count, (far, started, 0), 1)
            np.add.at(count, (far, started, 1), agree)
    for name, sel in (("all SJs", (slice(None), slice(None))), ("started in the period", (slice(None), 1)),
                      (f"started, position < {CUT}", (0, 1)), (f"started, position >= {CUT}", (1, 1))):
        n, a = count[sel].reshape(-1, 2).sum(axis=0)
        print(f"{name}: SA agreement {a / max(n, 1):.3f} over {n} SJs")


if __name__ == "__main__":
    main()
