"""Evaluate schedulers on one scenario over several seeds (and DRAM bandwidths).

One call runs every (scheduler, seed, bandwidth) episode of a scenario and
returns one row per episode, so the workflow batches many short episodes into
one job. The workload of a seed is the same for every scheduler and bandwidth
(it is drawn from the seed with the table's isolated latencies at the system's
nominal bandwidth), so schedulers are compared on identical request streams.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from .costs import SystemCosts
from .sim import Simulator

#: Columns of a result row, in order (the first five are the published schema of sla.csv).
RESULT_COLUMNS = [
    "workload", "qos", "scheduler", "seed", "sla_rate", "jobs", "hits", "misses",
    "energy_pj", "energy_overhead_pj", "latency_mean", "latency_p99", "dram_saturated_cycles",
    "utilisation_mean", "makespan", "decisions", "policy_steps", "sched_wall_s_per_decision",
    "sched_cpu_s_per_decision",
    "bandwidth_gbps", "period_cycles", "offered_load",
]


def episode_row(res, workload: str, qos: str, scheduler: str, seed: int, bandwidth_gbps: float,
                period: float, offered: float) -> dict[str, Any]:
    """One result row from an :class:`~relmas.sim.EpisodeResult`."""
    d = res.to_dict()
    return {
        "workload": workload, "qos": qos, "scheduler": scheduler, "seed": seed,
        "sla_rate": d["sla_rate"], "jobs": d["jobs"], "hits": d["hits"], "misses": d["misses"],
        "energy_pj": d["energy_pj"], "energy_overhead_pj": d["energy_overhead_pj"],
        "latency_mean": d["latency_mean"], "latency_p99": d["latency_p99"],
        "dram_saturated_cycles": d["dram_saturated_cycles"],
        "utilisation_mean": float(np.mean(d["utilisation"])) if d["utilisation"] else math.nan,
        "makespan": d["makespan"], "decisions": d["decisions"],
        "policy_steps": d["meta"].get("policy_steps", math.nan),
        "sched_wall_s_per_decision": d["sched_wall_s_per_decision"],
        "sched_cpu_s_per_decision": d["sched_cpu_s_per_decision"],
        "bandwidth_gbps": bandwidth_gbps, "period_cycles": period, "offered_load": offered,
    }


def evaluate(costs: SystemCosts, cfg: dict[str, Any], workload: str, qos: str, schedulers: list[str],
             seeds: list[int], period: float, bandwidths_gbps: list[float] | None = None,
             policies: dict[str, Path] | None = None, params: dict[str, dict[str, Any]] | None = None,
             jobs: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Run every (scheduler, seed, bandwidth) episode of one scenario; one row each."""
    from .cli.simulate import load_or_generate, make_scheduler

    policies = policies or {}
    params = params or {}
    bws = bandwidths_gbps or [costs.bandwidth * 1.0]  # 1 GHz: B/cycle == GB/s
    rows = []
    runs = [(s, seed, bw) for s in schedulers for seed in seeds for bw in bws]
    bar = tqdm(runs, desc=f"evaluate {workload}/{qos}", unit="episode", disable=not progress, file=sys.stderr)
    workloads = {seed: load_or_generate(workload, qos, seed, cfg, costs, jobs) for seed in seeds}
    for name, seed, bw in bar:
        c = costs.with_bandwidth(bw)
        sched = make_scheduler(name, cfg, c, params.get(name, {}), policies.get(name))
        w = workloads[seed]
        res = Simulator(c, period).run(w, sched, seed=seed)
        rows.append(episode_row(res, workload, qos, name, seed, bw, period, w.meta.get("offered_load", math.nan)))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)
