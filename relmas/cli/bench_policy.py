"""``relmas bench policy``: wall time of one RELMAS decision and of one DDPG update, one core.

* ``decision_ms``: one scheduling decision (encode the ready queue, run the
  actor over its R + 1 steps, decode priorities and SAs; what
  :meth:`relmas.policy.RelmasScheduler.schedule` does) for ready queues of 10,
  100 and 1,000 SJs, best of repeated runs after a warm-up.
* ``update_ms``: one DDPG update (critic step, actor step, two Polyak updates)
  on a batch of ``--batch`` transitions whose states hold ``--seq`` SJs on
  average (uniform in [seq/2, 3 seq/2]; next states half as long), best of 5.
* ``macs_per_step``: multiply-accumulates of one actor step, from the built network.

The ready queues are synthetic (fixed seed): six SAs, B = 16 B/cycle, jobs of
chained layers with log-normal latencies; decision time does not depend on the
values, only on R, h and M.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np
import torch

SEED = 20240


def synthetic_costs(num_sas: int = 6, num_models: int = 3, layers: tuple[int, int] = (8, 20), seed: int = 0,
                    bandwidth: float = 16.0) -> Any:
    """A random :class:`relmas.costs.SystemCosts` (chains with occasional skip edges), for tests and benches.

    SA classes alternate ``eyeriss_small``, ``simba_small``, ... so that a Simba Small exists.
    """
    from relmas.costs import ModelCost, SystemCosts

    rng = np.random.default_rng(seed)
    classes = ["eyeriss_small", "simba_small", "eyeriss_large", "simba_large"]
    models = []
    for k in range(num_models):
        L = int(rng.integers(layers[0], layers[1] + 1))
        base = rng.lognormal(np.log(15_000.0), 0.8, size=(L, 1))
        speed = rng.uniform(0.5, 2.0, size=(1, num_sas)) * rng.uniform(0.7, 1.4, size=(L, num_sas))
        cycles = np.maximum(base * speed, 100.0)
        bw = rng.uniform(0.5, 24.0, size=(L, 1)) * rng.uniform(0.6, 1.4, size=(L, num_sas))
        preds = [[] if i == 0 else [i - 1] for i in range(L)]
        for i in range(2, L):
            if rng.random() < 0.15:
                preds[i].append(i - 2)
        models.append(ModelCost(name=f"synth{k}", layers=[f"l{i}" for i in range(L)], cycles=cycles, bw=bw,
                                energy=cycles * 10.0, dram_bytes=bw * cycles, preds=preds))
    return SystemCosts(system="synthetic", sa_names=[f"sa{m}" for m in range(num_sas)],
                       sa_classes=[classes[m % len(classes)] for m in range(num_sas)], bandwidth=bandwidth,
                       nop_energy_pj_per_bit=0.0, models=models)


def synthetic_workload(costs: Any, jobs: int, seed: int, load: float = 0.5, qos_factor: float = 2.0) -> Any:
    """Pareto (shape 2) arrivals at offered ``load``; budget = qos_factor x the critical path on fastest SAs."""
    from relmas.workload import Workload

    rng = np.random.default_rng(seed)
    nm = len(costs.models)
    work = np.array([m.cycles.min(axis=1).sum() for m in costs.models])
    iso = []
    for m in costs.models:
        fin = np.zeros(m.num_layers)
        for i in range(m.num_layers):
            fin[i] = max([fin[p] for p in m.preds[i]] or [0.0]) + m.cycles[i].min()
        iso.append(fin.max())
    iso = np.array(iso)
    pick = rng.integers(0, nm, size=jobs)
    mean_gap = work.mean() / (load * costs.num_sas)
    scale = mean_gap / 2.0
    gaps = (rng.pareto(2.0, size=jobs) + 1.0) * scale
    arrival = np.cumsum(gaps) - gaps[0]
    return Workload(models=[m.name for m in costs.models], model=pick.astype(np.int64), arrival=arrival,
                    deadline=arrival + qos_factor * iso[pick], meta={"seed": int(seed), "synthetic": True})


def synthetic_queue(costs: Any, R: int, seed: int = SEED, period: float = 100_000.0) -> Any:
    """A ready queue of exactly R SJs (whole jobs, last one cut) at t = 10 periods, two SAs busy."""
    from relmas.scheduler import ReadyQueue

    rng = np.random.default_rng(seed)
    now = 10 * period
    job, layer, model, arr, dl, preds = [], [], [], [], [], []
    j = 0
    while len(job) < R:
        k = int(rng.integers(0, len(costs.models)))
        m = costs.models[k]
        a = now - rng.uniform(0, 5 * period)
        d = now + rng.uniform(0.5, 20) * period
        base = len(job)
        for i in range(min(m.num_layers, R - len(job))):
            job.append(j)
            layer.append(i)
            model.append(k)
            arr.append(a)
            dl.append(d)
            preds.append([base + p for p in m.preds[i]])
        j += 1
    cyc = np.array([costs.models[model[i]].cycles[layer[i]] for i in range(R)])
    bw = np.array([costs.models[model[i]].bw[layer[i]] for i in range(R)])
    M = costs.num_sas
    run = np.zeros(M)
    run[:2] = [30_000.0, 5_000.0]
    order = np.lexsort((layer, job, arr))  # tie order: arrival, job, layer
    inv = np.empty(R, np.int64)
    inv[order] = np.arange(R)
    return ReadyQueue.create(now=now, period=period, bandwidth=costs.bandwidth, job=np.array(job)[order],
                             layer=np.array(layer)[order], arrival=np.array(arr)[order],
                             deadline=np.array(dl)[order], cycles=cyc[order], bw=bw[order],
                             preds=[[int(inv[p]) for p in preds[i]] for i in order], model=np.array(model)[order],
                             run_work=run)


def _best_ms(fn: Any, reps: int, min_s: float = 0.3) -> float:
    """Best of at least ``reps`` runs (and ``min_s`` seconds), in ms, after one warm-up run.

    The minimum, as ``timeit`` recommends: slower runs are slower because of
    other processes, not because of the code.
    """
    fn()
    times = []
    t_end = time.perf_counter() + min_s
    while len(times) < reps or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 20 * reps:
            break
    return 1e3 * min(times)


def bench(hidden: int = 256, sizes: tuple[int, ...] = (10, 100, 1000), batch: int = 64, seq: int = 50,
          threads: int = 1, reps: int = 20) -> dict[str, Any]:
    """Measure; returns the JSON dict of ``relmas bench policy --json``."""
    from relmas.ddpg import Batch, Learner, TrainConfig, Transition
    from relmas.policy import Actor, EncoderSpec, RelmasScheduler, macs_per_step

    torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    costs = synthetic_costs(seed=SEED)
    spec = EncoderSpec.from_costs(costs)
    actor = Actor(spec.num_features, spec.num_outputs, hidden).eval()
    out: dict[str, Any] = {"decision_ms": {}, "update_ms": None, "macs_per_step": macs_per_step(actor)["total"]}
    sched = RelmasScheduler(actor, spec=spec, costs=costs, charge_overhead=False)
    for R in sizes:
        rq = synthetic_queue(costs, R)
        out["decision_ms"][str(R)] = round(_best_ms(lambda: sched.schedule(rq), reps if R <= 100 else
                                                      max(3, reps // 4)), 4)
    cfg = TrainConfig(hidden=hidden, batch_size=batch)
    learner = Learner(spec, cfg)
    rng = np.random.default_rng(SEED)
    F_, G = spec.num_features, spec.num_outputs
    items = []
    for _ in range(batch):
        R = int(rng.integers(max(1, seq // 2), seq + seq // 2 + 1)) if seq > 1 else 1
        R2 = max(0, R // 2)
        items.append(Transition(rng.standard_normal((R + 1, F_)).astype(np.float32),
                                rng.uniform(-1, 1, (R, G)).astype(np.float32), float(rng.normal()),
                                rng.standard_normal((R2 + 1, F_)).astype(np.float32), False))

    def update() -> None:
        learner.ddpg_update(Batch(items, F_, G))

    out["update_ms"] = round(_best_ms(update, 5, min_s=2.0), 2)
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "policy",
        help="time one RELMAS decision (10, 100, 1000 SJs) and one DDPG update",
        description="Wall time of one scheduling decision of the RELMAS policy for ready queues of 10, 100 and "
        "1,000 SJs (encode + actor + decode, best of several runs) and of one DDPG update, on --threads torch threads "
        "(default 1: one core), plus the policy's MACs per step.",
    )
    p.add_argument("--hidden", type=int, default=256, help="LSTM hidden size h (default 256, the paper's)")
    p.add_argument("--batch", type=int, default=64, help="transitions per DDPG update (default 64)")
    p.add_argument("--seq", type=int, default=50, help="mean SJs per stored state in the update batch (default 50)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--json", action="store_true",
                   help='print {"decision_ms": {"10": ..., "100": ..., "1000": ...}, "update_ms": ..., '
                   '"macs_per_step": ...}')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from characterize.errors import InputError

    if args.hidden < 2 or args.hidden % 2:
        raise InputError("--hidden", "", f"must be an even integer >= 2, got {args.hidden}")
    if args.batch < 1 or args.seq < 1 or args.threads < 1:
        raise InputError("--batch/--seq/--threads", "", "must be >= 1")
    res = bench(hidden=args.hidden, batch=args.batch, seq=args.seq, threads=args.threads)
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"RELMAS policy, h = {args.hidden}, M = 6, {args.threads} torch thread(s), {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"  MACs per step: {res['macs_per_step']:,} (paper at h = 256: 316,288; see docs/relmas.md)")
    for R, ms in res["decision_ms"].items():
        print(f"  decision, {R:>5} SJs: {ms:9.3f} ms")
    print(f"  DDPG update, batch {args.batch}, ~{args.seq} SJs: {res['update_ms']:.1f} ms")
    return 0
