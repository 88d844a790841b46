"""``relmas bench sim``: speed of the contention simulator's event kernel, one core.

Two measurements, after a warm-up (numba compilation excluded), on synthetic but
realistic inputs drawn from a fixed seed (6 SAs, B = 16 B/cycle, jobs of 10-60
layers in chains with residual skips, layer latencies log-normal around 20k
cycles, bandwidth demands log-normal around 3 B/cycle, clipped to 0.2-24):

Each figure is the best of several repeats (wall clock, one thread).

* ``sj_per_s``: SJs per second replaying one fixed 10,000-SJ schedule (arrivals,
  deadlines, dependencies, contention) through :func:`relmas.sim.kernel.run_schedule`,
  end to end from arrays.
* ``rq_evals_per_s``: simulate-outs per second of a 100-SJ ready queue (7 jobs,
  two SAs busy at the time of decision, deadlines respected), 10,000 evaluations as 100 generations of 100
  random candidates through :func:`relmas.scheduler.simulate_out_batch` (MAGMA's
  fitness pattern).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

from relmas.scheduler import ReadyQueue, simulate_out_batch
from relmas.sim.kernel import run_schedule, warmup

SEED = 20240
M = 6
B = 16.0


def _jobs(rng: np.random.Generator, n_sj: int, lo: int = 10, hi: int = 60) -> list[tuple[int, list[list[int]]]]:
    """Job layer counts (lo..hi) and local predecessor lists adding up to exactly n_sj SJs."""
    out = []
    total = 0
    while total < n_sj:
        L = int(min(rng.integers(lo, hi + 1), n_sj - total))
        preds = [[] if l == 0 else [l - 1] for l in range(L)]
        for l in range(2, L):
            if rng.random() < 0.15:
                preds[l].append(l - 2)  # residual / branch join
        out.append((L, preds))
        total += L
    return out


def _layer_costs(rng: np.random.Generator, L: int) -> tuple[np.ndarray, np.ndarray]:
    base = rng.lognormal(np.log(20_000.0), 1.0, size=(L, 1))
    speed = rng.uniform(0.5, 2.0, size=(1, M)) * rng.uniform(0.7, 1.4, size=(L, M))
    cycles = np.maximum(1.0, np.round(base * speed))
    bw = np.clip(rng.lognormal(np.log(3.0), 0.8, size=(L, M)), 0.2, 24.0)
    return cycles, bw


def replay_inputs(n_sj: int = 10_000, seed: int = SEED, gap: float = 450_000.0, qos: float = 6.0) -> dict:
    """A fixed schedule of ``n_sj`` SJs for :func:`run_schedule` (keyword arguments).

    Pareto (shape 2) inter-arrival times of mean ``gap`` cycles, random SAs, FCFS
    priorities, deadlines ``qos`` x the job's isolated latency: with the defaults the SAs
    are about 55% busy, DRAM is saturated about 40% of the time and about 80% of the
    SJs run (the rest are dropped at their deadline).
    """
    rng = np.random.default_rng(seed)
    sa, prio, work, bw, rel, dl, ptr, idx = [], [], [], [], [], [], [0], []
    t = 0.0
    for L, preds in _jobs(rng, n_sj):
        cyc, b = _layer_costs(rng, L)
        base = len(sa)
        t += float(rng.pareto(2.0) * gap)
        iso = float(cyc.min(axis=1).sum())
        s = rng.integers(0, M, size=L)
        for l in range(L):
            sa.append(int(s[l]))
            prio.append(-t)  # FCFS
            work.append(cyc[l, s[l]])
            bw.append(b[l, s[l]])
            rel.append(t)
            dl.append(t + qos * iso)
            idx.extend(base + p for p in preds[l])
            ptr.append(len(idx))
    return dict(n_sa=M, sa=np.array(sa, np.int64), priority=np.array(prio), work=np.array(work),
                bw=np.array(bw), release=np.array(rel), deadline=np.array(dl),
                pred_ptr=np.array(ptr, np.int64), pred_idx=np.array(idx, np.int64), bandwidth=B)


def ready_queue(R: int = 100, seed: int = SEED) -> ReadyQueue:
    """A synthetic ready queue of R SJs (about 7 jobs of 8-25 layers) at t = 1e6 with SAs 0 and 3 busy."""
    rng = np.random.default_rng(seed + 1)
    now = 1_000_000.0
    job, layer, arr, dl, preds, cyc, bws = [], [], [], [], [], [], []
    j = 0
    for L, lp in _jobs(rng, R, 8, 25):
        c, b = _layer_costs(rng, L)
        a = now - float(rng.uniform(0, 100_000))
        base = len(job)
        for l in range(L):
            job.append(j)
            layer.append(l)
            arr.append(a)
            dl.append(a + 6.0 * float(c.min(axis=1).sum()))
            preds.append([base + p for p in lp[l]])
        cyc.append(c)
        bws.append(b)
        j += 1
    run_work = np.zeros(M)
    run_bw = np.zeros(M)
    run_work[[0, 3]] = [30_000.0, 12_000.0]
    run_bw[[0, 3]] = [10.0, 6.0]
    preds[0] = preds[0] + [R + 0]  # the first SJ waits for the SJ on SA 0
    return ReadyQueue.create(now=now, period=100_000.0, bandwidth=B, job=np.array(job), layer=np.array(layer),
                             arrival=np.array(arr), deadline=np.array(dl), cycles=np.vstack(cyc),
                             bw=np.vstack(bws), preds=preds, run_work=run_work, run_bw=run_bw,
                             run_job=np.array([j + 5, -1, -1, j + 6, -1, -1]))


def measure(repeats: int = 5) -> dict[str, float]:
    """Run both benchmarks; returns ``{"sj_per_s", "rq_evals_per_s"}``.

    Wall-clock time on the calling thread, best of ``repeats`` runs of each measurement
    (the minimum is the least disturbed by other load on the machine).
    """
    warmup()
    inp = replay_inputs()
    n = inp["sa"].shape[0]
    run_schedule(**inp)
    best = math.inf
    for _ in range(max(1, repeats) * 4):
        t0 = time.perf_counter()
        run_schedule(**inp)
        best = min(best, time.perf_counter() - t0)
    sj_per_s = n / best

    rq = ready_queue()
    rng = np.random.default_rng(SEED + 2)
    P, G = 100, 100
    gens = [(rng.random((P, rq.size)), rng.integers(0, M, size=(P, rq.size))) for _ in range(G)]
    simulate_out_batch(rq, *gens[0])
    best = math.inf
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        for pr, s in gens:
            simulate_out_batch(rq, pr, s)
        best = min(best, time.perf_counter() - t0)
    return {"sj_per_s": sj_per_s, "rq_evals_per_s": P * G / best}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="event-kernel speed: SJs/s replaying a schedule, RQ evaluations/s",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help='print {"sj_per_s": ..., "rq_evals_per_s": ...}')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    res = measure()
    if args.json:
        print(json.dumps(res))
    else:
        print(f"replay of one 10,000-SJ schedule : {res['sj_per_s']:>14,.0f} SJs/s")
        print(f"100-SJ ready queue simulated out : {res['rq_evals_per_s']:>14,.0f} evaluations/s")
    return 0
