"""Energy overhead of running the RELMAS policy on the multi-accelerator itself (paper section 5.3, Fig. 5).

The policy runs one LSTM step per ready-queue entry plus the primer, on one
Simba Small SA. A decision's energy for hidden size h is a fixed part (loading
the weights, once per decision) plus a part per step, both from the
characterisation of the policy's layers on ``simba_small``
(:func:`relmas.policy.policy_decision_cost`); the number of decisions and of
steps (the sum over decisions of queue length + 1) are measured by simulating
the workload at each scheduling period. Overhead = (decisions x fixed + steps x
per step) / energy of the workload's execution (SJs plus NoP), in percent.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .costs import SystemCosts
from .policy import policy_decision_cost
from .scheduler import ReadyQueue, Scheduler


class StepCounter(Scheduler):
    """Wraps a scheduler and counts the decisions on non-empty queues and their policy steps (R + 1 each)."""

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
        # an empty queue needs no policy run (RelmasScheduler charges nothing for it either)
        if rq.size:
            self.steps += rq.size + 1
            self.decisions += 1
        return self.inner.schedule(rq)

    def decision_overhead(self, rq: ReadyQueue):
        return self.inner.decision_overhead(rq)


def energy_overhead(costs: SystemCosts, cfg: dict[str, Any], policy_table: pd.DataFrame, workload: str, qos: str,
                    hidden_sizes: list[int], periods: list[float], seeds: list[int], scheduler: str,
                    scheduler_params: dict[str, Any] | None = None, policy=None,
                    jobs: int | None = None) -> pd.DataFrame:
    """One row per (period, seed, hidden size): steps, energies and overhead in percent."""
    from .cli.simulate import load_or_generate, make_scheduler
    from .sim import Simulator

    cost = {h: policy_decision_cost(policy_table, h, costs.num_sas) for h in hidden_sizes}
    rows = []
    for period in periods:
        for seed in seeds:
            w = load_or_generate(workload, qos, seed, cfg, costs, jobs)
            counter = StepCounter(make_scheduler(scheduler, cfg, costs, dict(scheduler_params or {}), policy))
            res = Simulator(costs, period).run(w, counter, seed=seed)
            work_energy = res.energy_sj_pj + res.energy_nop_pj
            for h in hidden_sizes:
                c = cost[h]
                _, energy = c.total(counter.decisions, counter.steps)
                rows.append({
                    "workload": workload, "qos": qos, "scheduler": scheduler, "period_cycles": period,
                    "seed": seed, "hidden": h, "decisions": counter.decisions, "policy_steps": counter.steps,
                    "fixed_cycles": c.fixed_cycles, "fixed_energy_pj": c.fixed_energy_pj,
                    "step_cycles": c.step_cycles, "step_energy_pj": c.step_energy_pj,
                    "workload_energy_pj": work_energy, "overhead_energy_pj": energy,
                    "overhead_percent": 100.0 * energy / work_energy if work_energy > 0 else math.nan,
                    "sla_rate": res.sla_rate,
                })
    return pd.DataFrame(rows)
