"""Probe: of the SA choices where a policy departs from its expert, how many cost anything?

    python scripts/probes/sa_regret.py POLICY.pt [EXPERT] [light|heavy|mixed]

Drives Light/Medium episodes (seeds 1000-1002) with the expert (default ``magma-multiseed``), the
policy's decision overhead charged as when the policy runs. At every decision, for each SJ that the
expert's decision starts within the period and to which the policy gives another SA, the expert's
decision is simulated out once more with only that SJ moved to the policy's SA (MAGMA's fitness:
queue jobs meeting their deadline + 0.4 x mean clipped slack). A move that loses a queue job is
"harmful", one that only lowers the slack term "slack only", one that changes nothing or gains "free".
The same split is reported for moving the SJ to each other SA, to show how constrained the SA
choices are.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from baselines.magma import magma_fitness
from relmas.cli.common import scenario
from relmas.cli.simulate import load_or_generate, period_for
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
    expert = get_scheduler(expert_name, **(cfg.get("schedulers", {}).get(expert_name) or {}))
    M = costs.num_sas if hasattr(costs, "num_sas") else len(costs.sa_classes)
    started = agree = 0
    pol_kind = np.zeros(3, dtype=np.int64)      # harmful, slack only, free
    any_kind = np.zeros(3, dtype=np.int64)
    for seed in (1000, 1001, 1002):
        sim = Simulator(costs, period)
        sim.reset(load_or_generate(wl, "medium", seed, cfg, costs, None))
        expert.reset(seed)
        while (rq := sim.observe()) is not None:
            if (ov := policy.decision_overhead(rq)) is not None:
                sim.charge_overhead(*ov)
            p_exp, sa_exp = expert.schedule(rq)
            _, sa_pol = policy.schedule(rq)
            info = sim.step(p_exp, sa_exp, simulate_out=False)
            idx = np.flatnonzero(~np.isnan(info.start))
            if idx.size == 0:
                continue
            # candidates: the expert's decision, then each started SJ moved to each SA
            cand = [sa_exp]
            for i in idx:
                for m in range(M):
                    s = sa_exp.copy()
                    s[i] = m
                    cand.append(s)
            sas = np.stack(cand).astype(np.int64)
            prio = np.repeat(np.asarray(p_exp, np.float64)[None], len(cand), axis=0)
            fit, hits = magma_fitness(rq, prio, sas)
            f0, h0 = fit[0], hits[0]
            for k, i in enumerate(idx):
                started += 1
                for m in range(M):
                    if m == sa_exp[i]:
                        continue
                    c = 1 + k * M + m
                    kind = 0 if hits[c] < h0 else (1 if fit[c] < f0 - 1e-9 else 2)
                    any_kind[kind] += 1
                    if m == sa_pol[i]:
                        pol_kind[kind] += 1
                agree += int(sa_pol[i] == sa_exp[i])
    print(f"{started} started SJs; policy agrees with the expert on {agree} ({agree / max(started, 1):.3f})")
    n = pol_kind.sum()
    print(f"policy's other SA: harmful {pol_kind[0]} ({pol_kind[0] / max(n, 1):.3f}), slack only {pol_kind[1]} "
          f"({pol_kind[1] / max(n, 1):.3f}), free {pol_kind[2]} ({pol_kind[2] / max(n, 1):.3f})")
    n = any_kind.sum()
    print(f"any other SA:       harmful {any_kind[0]} ({any_kind[0] / max(n, 1):.3f}), slack only {any_kind[1]} "
          f"({any_kind[1] / max(n, 1):.3f}), free {any_kind[2]} ({any_kind[2] / max(n, 1):.3f})")


if __name__ == "__main__":
    main()
