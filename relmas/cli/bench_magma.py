"""``relmas bench magma``: wall time of one MAGMA scheduling period on one core.

The ready queue is synthetic and reproducible from ``--seed`` (see
:func:`synthetic_queue`): about the size and shape of the queues the simulator
hands over (jobs of chain-with-branches layer graphs, heterogeneous per-SA
latencies, DRAM demands that contend at 16 B/cycle, some SAs busy, some jobs
partly executed), so the benchmark needs no characterisation table. It times
``--repeats`` periods after a warm-up period (numba compilation) and reports the
median wall time as ``seconds_per_period`` and the median process CPU time as
``cpu_seconds_per_period`` (the search is single-threaded, so on a busy machine
the CPU time is the cleaner one-core figure), together with the heuristics'
time per period on the same queue.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from relmas.cli.common import int_at_least, non_negative_int, positive_int
from relmas.scheduler import ReadyQueue


def synthetic_queue(n_sjs: int = 100, n_sas: int = 6, seed: int = 0, bandwidth: float = 16.0,
                    period: float = 100_000.0) -> ReadyQueue:
    """A reproducible ready queue of exactly ``n_sjs`` SJs on ``n_sas`` SAs.

    Jobs have 8-20 layers, a chain with an occasional two-way branch; layer cycles
    are lognormal (median 20k) times a per-SA factor (lognormal, sigma 0.6, so every
    layer prefers some SAs); bandwidth demands are 2-12 B/cycle. Arrivals spread
    over the last 1.5 periods; budgets are 1.5-4x the job's fastest-SA critical
    path (at least 0.3x of it left). Half the SAs are busy; jobs older than half a
    period have their first layers done, one of them running.
    """
    rng = np.random.default_rng(seed)
    now = 3 * period
    M = n_sas
    R = n_sjs
    sa_speed = rng.lognormal(0.0, 0.3, size=M)
    job, layer, arrival, deadline, cycles, bw, preds = [], [], [], [], [], [], []
    run_work = np.zeros(M)
    run_bw = np.zeros(M)
    run_job = np.full(M, -1, np.int64)
    busy = [int(m) for m in rng.permutation(M)[: M // 2]]
    for m in busy:
        run_work[m] = rng.uniform(2_000, 40_000)
        run_bw[m] = rng.uniform(2, 12)
    free_slots = list(busy)
    j = 0
    while len(job) < R:
        L = int(rng.integers(8, 21))
        lc = rng.lognormal(np.log(20_000), 0.8, size=L)[:, None] * rng.lognormal(0.0, 0.6, size=(L, M)) * sa_speed
        lb = rng.uniform(2, 12, size=(L, 1)) * rng.lognormal(0.0, 0.3, size=(L, M))
        lpreds: list[list[int]] = [[]]
        branch_open = False
        for li in range(1, L):
            if branch_open:
                lpreds.append([li - 1, li - 2])  # join of the two branches
                branch_open = False
            elif li >= 2 and rng.random() < 0.15:
                lpreds.append([li - 2])  # parallel to layer li-1
                branch_open = True
            else:
                lpreds.append([li - 1])
        fin = np.zeros(L)
        for li in range(L):
            fin[li] = max((fin[p] for p in lpreds[li]), default=0.0) + lc[li].min()
        a = now - float(rng.uniform(0.0, 1.5 * period))
        d = max(a + float(rng.uniform(1.5, 4.0) * fin.max()), now + 0.3 * fin.max())
        done, slot = 0, -1
        if a < now - 0.5 * period and free_slots:
            done = int(rng.integers(1, L // 2))  # layers [0, done) finished, done-1 still running
            slot = free_slots.pop()
            run_job[slot] = j
        base = len(job) - done  # queue index of layer li is base + li
        for li in range(done, min(L, done + R - len(job))):
            ps = []
            for p in lpreds[li]:
                if p >= done:
                    ps.append(base + p)
                elif p == done - 1:
                    ps.append(R + slot)
            job.append(j)
            layer.append(li)
            arrival.append(a)
            deadline.append(d)
            cycles.append(lc[li])
            bw.append(lb[li])
            preds.append(ps)
        j += 1
    order = np.lexsort((np.array(layer), np.array(job), np.array(arrival)))
    pos = np.empty(R, np.int64)
    pos[order] = np.arange(R)
    new_preds = [[int(pos[p]) if p < R else p for p in preds[i]] for i in order]
    return ReadyQueue.create(
        now=now, period=period, bandwidth=bandwidth, job=np.array(job)[order], layer=np.array(layer)[order],
        arrival=np.array(arrival)[order], deadline=np.array(deadline)[order], cycles=np.array(cycles)[order],
        bw=np.array(bw)[order], preds=new_preds, run_work=run_work, run_bw=run_bw, run_job=run_job)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "magma",
        help="time one MAGMA scheduling period (100 generations x 100 individuals on a 100-SJ queue)",
        description="Time MAGMA's genetic search on one synthetic ready queue, single-threaded, after a "
        "warm-up run that compiles the kernel; report the median over --repeats periods. Also times the "
        "heuristic baselines on the same queue.",
    )
    p.add_argument("--generations", type=non_negative_int, default=100)
    p.add_argument("--population", type=int_at_least(2), default=100)
    p.add_argument("--sjs", type=positive_int, default=100, help="SJs in the ready queue")
    p.add_argument("--sas", type=positive_int, default=6, help="number of SAs")
    p.add_argument("--repeats", type=positive_int, default=5)
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--variant", choices=["magma", "magma-seeded", "magma-multiseed"], default="magma")
    p.add_argument("--json", action="store_true", help='print {"seconds_per_period": ..., ...}')
    p.set_defaults(func=run)


def _time(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def run(args: argparse.Namespace) -> int:
    from characterize.errors import InputError

    from baselines.edf import EDFH
    from baselines.herald import HeraldScheduler
    from baselines.magma import Magma, MagmaMultiSeed, MagmaSeeded
    from baselines.prema import PremaH

    cls = {"magma": Magma, "magma-seeded": MagmaSeeded, "magma-multiseed": MagmaMultiSeed}[args.variant]
    try:  # the variant's own limits (magma-multiseed seeds six individuals), as `simulate --param` reports them
        sched = cls(generations=args.generations, population=args.population, seed=args.seed)
    except ValueError as exc:
        raise InputError("--population" if "population" in str(exc) else "--variant", "", str(exc)) from None
    rq = synthetic_queue(args.sjs, args.sas, args.seed)
    sched.schedule(rq)  # warm-up: numba compilation / cache load
    times = []
    cpu = []
    fits = []
    for r in range(args.repeats):
        sched.reset(args.seed + r)
        c0 = time.process_time()
        t0 = time.perf_counter()
        sched.schedule(rq)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        fits.append(sched.last.fitness)
    heur = {}
    for h in (EDFH(), PremaH(), HeraldScheduler()):
        h.schedule(rq)
        heur[h.name] = float(np.median(_time(lambda h=h: h.schedule(rq), 50)))
    result = {
        "seconds_per_period": round(float(np.median(times)), 4),
        "min_s": round(min(times), 4), "max_s": round(max(times), 4),
        "cpu_seconds_per_period": round(float(np.median(cpu)), 4),
        "evaluations_per_period": sched.last.evaluations,
        "evaluations_per_second": round(sched.last.evaluations / float(np.median(times))),
        "best_fitness_median": float(np.median(fits)),
        "variant": args.variant, "generations": args.generations, "population": args.population,
        "sjs": rq.size, "jobs": int(len(rq.jobs)), "sas": rq.num_sas, "repeats": args.repeats,
        "heuristic_seconds_per_period": {k: round(v, 6) for k, v in heur.items()},
        "threads": os.environ.get("NUMBA_NUM_THREADS", "1 (kernel is single-threaded)"),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.variant} {args.generations} x {args.population} on a {rq.size}-SJ queue "
              f"({len(rq.jobs)} jobs, {rq.num_sas} SAs), {args.repeats} periods:")
        print(f"  seconds per period: median {result['seconds_per_period']:.3f}  "
              f"(min {result['min_s']:.3f}, max {result['max_s']:.3f}; process CPU time "
              f"{result['cpu_seconds_per_period']:.3f}); {result['evaluations_per_second']:,} fitness evaluations/s")
        for k, v in heur.items():
            print(f"  {k:8s} {v * 1e3:8.3f} ms per period")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m relmas.cli.bench_magma [--json] ...``), same options as ``relmas bench magma``."""
    parser = argparse.ArgumentParser(prog="relmas bench")
    register(parser.add_subparsers(dest="bench", required=True))
    args = parser.parse_args(["magma", *(argv if argv is not None else __import__("sys").argv[1:])])
    from characterize.errors import InputError

    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"relmas bench: error: {exc}", file=__import__("sys").stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
