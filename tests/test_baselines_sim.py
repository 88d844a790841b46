"""Every baseline runs whole episodes in the project's simulator, deterministically given the seed."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from relmas.costs import ModelCost, SystemCosts
from relmas.scheduler import available_schedulers, get_scheduler
from relmas.sim.simulator import Simulator
from relmas.workload import Workload

NAMES = ["fcfs-h", "edf-h", "prema-h", "herald", "magma", "magma-seeded", "magma-multiseed"]


def synthetic_costs(seed: int = 0, M: int = 4) -> SystemCosts:
    rng = np.random.default_rng(seed)
    models = []
    for k, L in enumerate((5, 8, 12)):
        preds = [[] if i == 0 else [i - 1] for i in range(L)]
        if L > 6:
            preds[4] = [2]  # layer 4 parallel to layer 3
            preds[5] = [3, 4]
        cyc = rng.lognormal(np.log(8_000 * (k + 1)), 0.5, (L, 1)) * rng.lognormal(0, 0.5, (L, M))
        models.append(ModelCost(name=f"m{k}", layers=[f"l{i}" for i in range(L)], cycles=cyc,
                                bw=rng.uniform(1, 10, (L, M)), energy=cyc * 2.0, dram_bytes=cyc * 3.0, preds=preds))
    return SystemCosts(system="toy", sa_names=[f"sa{m}" for m in range(M)], sa_classes=["x"] * M, bandwidth=16.0,
                       nop_energy_pj_per_bit=0.0, models=models)


def synthetic_workload(costs: SystemCosts, n: int = 40, seed: int = 1, scale: float = 40_000.0,
                       factor: float = 2.0) -> Workload:
    rng = np.random.default_rng(seed)
    model = rng.integers(0, len(costs.models), n)
    arrival = np.cumsum(rng.pareto(2.0, n) + 1.0) * scale
    crit = np.array([m.cycles.min(axis=1).sum() for m in costs.models])
    deadline = arrival + factor * crit[model]
    return Workload(models=[m.name for m in costs.models], model=model.astype(np.int64), arrival=arrival,
                    deadline=deadline, meta={"name": "toy"})


def test_all_baselines_registered():
    assert set(NAMES) <= set(available_schedulers())


@pytest.mark.parametrize("name", NAMES)
def test_episode_runs_and_is_deterministic(name):
    costs = synthetic_costs()
    wl = synthetic_workload(costs)
    kw = dict(generations=8, population=12) if name.startswith("magma") else {}
    sim = Simulator(costs, period=20_000.0)
    r1 = sim.run(wl, get_scheduler(name, **kw), seed=5)
    r2 = Simulator(costs, period=20_000.0).run(wl, get_scheduler(name, **kw), seed=5)
    assert r1.jobs == wl.num_jobs and r1.hits + r1.misses == r1.jobs
    assert 0.0 < r1.sla_rate <= 1.0 and r1.decisions > 0
    assert r1.hits == r2.hits
    np.testing.assert_array_equal(r1.job_hit, r2.job_hit)
    np.testing.assert_allclose(r1.job_finish, r2.job_finish, equal_nan=True)


def test_schedulers_differ_and_edf_beats_fcfs_under_deadline_pressure():
    costs = synthetic_costs()
    wl = synthetic_workload(costs, n=60, seed=2)
    rates = {n: Simulator(costs, period=20_000.0).run(wl, get_scheduler(n), seed=0).sla_rate
             for n in ("fcfs-h", "edf-h", "prema-h", "herald")}
    assert len(set(rates.values())) > 1, rates
    assert rates["edf-h"] >= rates["fcfs-h"], rates


def test_bench_magma_json(capsys):
    from relmas.cli import bench_magma

    p = argparse.ArgumentParser()
    bench_magma.register(p.add_subparsers())
    args = p.parse_args(["magma", "--json", "--generations", "5", "--population", "10", "--sjs", "30",
                         "--repeats", "2"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seconds_per_period"] > 0 and out["sjs"] == 30 and out["evaluations_per_period"] == 60
    assert set(out["heuristic_seconds_per_period"]) == {"edf-h", "prema-h", "herald"}
