"""Energy overhead of running the RELMAS policy on the multi-accelerator itself (paper section 5.3, Fig. 5).

The policy runs one LSTM step per ready-queue entry plus the primer, on one
Simba Small SA. Its energy per step for hidden size h is the characterisation
table's energy of the policy's three layers (``characterize.policy_layers``) on
``simba_small``; the number of steps of an episode is the sum over decisions of
(queue length + 1), measured by simulating the workload at each scheduling
period. Overhead = steps x energy per step / energy of the workload's
execution (SJs plus NoP), in percent.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from characterize.errors import InputError

from .costs import SystemCosts
from .scheduler import ReadyQueue, Scheduler


class StepCounter(Scheduler):
    """Wraps a scheduler and counts the policy steps (R + 1 per decision) it would take."""

    def __init__(self, inner: Scheduler):
        self.inner = inner
        self.name = getattr(inner, "name", "wrapped")
        self.steps = 0
        self.decisions = 0

    def reset(self, seed: int | None = None) -> None:
        self.inner.reset(seed)
        self.steps = 0
        self.decisions = 0

    def schedule(self, rq: ReadyQueue) -> tuple[np.ndarray, np.ndarray]:
        self.steps += rq.size + 1
        self.decisions += 1
        return self.inner.schedule(rq)

    def decision_overhead(self, rq: ReadyQueue):
        return self.inner.decision_overhead(rq)


def policy_step_cost(policy_table: pd.DataFrame, hidden: int, num_sas: int,
                     sa_class: str = "simba_small") -> tuple[float, float]:
    """(cycles, energy_pj) of one policy step at hidden size ``hidden`` on ``sa_class``."""
    name = f"relmas_policy_h{hidden}_m{num_sas}"
    rows = policy_table[(policy_table["model"] == name) & (policy_table["sa_class"] == sa_class)]
    if rows.empty:
        raise InputError("policy table", name, f"no rows for hidden size {hidden} on {sa_class}; "
                         f"run `relmas characterize --classes {sa_class} --policy-hidden {hidden} ...`")
    return float(rows["cycles"].sum()), float(rows["energy_pj"].sum())


def energy_overhead(costs: SystemCosts, cfg: dict[str, Any], policy_table: pd.DataFrame, workload: str, qos: str,
                    hidden_sizes: list[int], periods: list[float], seeds: list[int], scheduler: str,
                    scheduler_params: dict[str, Any] | None = None, policy=None,
                    jobs: int | None = None) -> pd.DataFrame:
    """One row per (period, seed, hidden size): steps, energies and overhead in percent."""
    from .cli.simulate import load_or_generate, make_scheduler
    from .sim import Simulator

    step_cost = {h: policy_step_cost(policy_table, h, costs.num_sas) for h in hidden_sizes}
    rows = []
    for period in periods:
        for seed in seeds:
            w = load_or_generate(workload, qos, seed, cfg, costs, jobs)
            counter = StepCounter(make_scheduler(scheduler, cfg, costs, dict(scheduler_params or {}), policy))
            res = Simulator(costs, period).run(w, counter, seed=seed)
            work_energy = res.energy_sj_pj + res.energy_nop_pj
            for h in hidden_sizes:
                cyc, e = step_cost[h]
                rows.append({
                    "workload": workload, "qos": qos, "scheduler": scheduler, "period_cycles": period,
                    "seed": seed, "hidden": h, "decisions": counter.decisions, "policy_steps": counter.steps,
                    "step_cycles": cyc, "step_energy_pj": e, "workload_energy_pj": work_energy,
                    "overhead_energy_pj": counter.steps * e,
                    "overhead_percent": 100.0 * counter.steps * e / work_energy if work_energy > 0 else math.nan,
                    "sla_rate": res.sla_rate,
                })
    return pd.DataFrame(rows)
