"""EDF-H, PREMA-H and Herald make the decisions their definitions imply, on hand-built queues."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from baselines.edf import EDFH, edf_priority
from baselines.fcfs import FCFSH
from baselines.herald import HeraldScheduler, _makespan, herald_assign, herald_order
from baselines.prema import PREMA_LEVELS, PremaH, critical_path_estimate, prema_job_order
from relmas.scheduler import ReadyQueue, get_scheduler, simulate_out


def chain(n: int) -> list[list[int]]:
    return [[] if i == 0 else [i - 1] for i in range(n)]


def queue(jobs, now=0.0, bandwidth=1e9, run_work=None, run_job=None) -> ReadyQueue:
    """jobs: list of dicts with arrival, deadline, cycles [L, M], preds (local), bw (optional)."""
    job, layer, arr, dl, cyc, bw, preds = [], [], [], [], [], [], []
    order = sorted(range(len(jobs)), key=lambda k: (jobs[k]["arrival"], k))
    base = {}
    n = 0
    for k in order:
        base[k] = n
        n += len(jobs[k]["cycles"])
    for k in order:
        jb = jobs[k]
        c = np.asarray(jb["cycles"], float)
        p = jb.get("preds") or chain(len(c))
        for li in range(len(c)):
            job.append(k)
            layer.append(li)
            arr.append(jb["arrival"])
            dl.append(jb["deadline"])
            cyc.append(c[li])
            bw.append(np.asarray(jb.get("bw", np.zeros_like(c)), float)[li])
            preds.append([base[k] + q for q in p[li]])
    return ReadyQueue.create(now=now, period=1000.0, bandwidth=bandwidth, job=job, layer=layer, arrival=arr,
                             deadline=dl, cycles=np.array(cyc), bw=np.array(bw), preds=preds,
                             run_work=run_work, run_job=run_job)


def first_started(rq, prio, sa):
    fin = simulate_out(rq, prio, sa)
    return rq.job[int(np.nanargmin(fin))]


# --------------------------------------------------------------------------- EDF-H / FCFS-H


def test_edf_serves_earlier_deadline_fcfs_serves_earlier_arrival():
    # job 0 arrives first but has the later deadline; one SA, so only one can go first
    rq = queue([dict(arrival=0.0, deadline=10_000.0, cycles=[[100.0]]),
                dict(arrival=5.0, deadline=500.0, cycles=[[100.0]])], now=10.0)
    p_edf, s_edf = EDFH().schedule(rq)
    p_fcfs, s_fcfs = FCFSH().schedule(rq)
    assert first_started(rq, p_edf, s_edf) == 1
    assert first_started(rq, p_fcfs, s_fcfs) == 0


def test_edf_priority_is_deadline_then_layer_order():
    rq = queue([dict(arrival=0.0, deadline=900.0, cycles=[[10.0]] * 3),
                dict(arrival=1.0, deadline=400.0, cycles=[[10.0]] * 2)], now=2.0)
    prio = edf_priority(rq)
    ranked = np.argsort(-prio, kind="stable")
    assert [(int(rq.job[i]), int(rq.layer[i])) for i in ranked] == [(1, 0), (1, 1), (0, 0), (0, 1), (0, 2)]


def test_edf_sa_heuristic_picks_earliest_finish():
    # SA0 fast, SA1 slow (x3); the urgent job takes SA0, the other job waits for SA0 only if
    # that still finishes earlier than on SA1: 100 + 100 = 200 < 300 -> also SA0; a third one
    # would finish at 300 on SA0 vs 300 on SA1 -> tie goes to SA0 (lower index).
    jobs = [dict(arrival=0.0, deadline=1_000.0 + k, cycles=[[100.0, 300.0]]) for k in range(2)]
    jobs.append(dict(arrival=0.0, deadline=5_000.0, cycles=[[100.0, 250.0]]))
    rq = queue(jobs)
    prio, sa = EDFH().schedule(rq)
    by_job = {int(rq.job[i]): int(sa[i]) for i in range(rq.size)}
    assert by_job == {0: 0, 1: 0, 2: 1}  # 300 on SA0 vs 250 on SA1


def test_edf_respects_busy_sa():
    # SA0 is busy for 1000 more cycles: the SJ goes to SA1 even though it is slower there.
    rq = queue([dict(arrival=0.0, deadline=10_000.0, cycles=[[100.0, 400.0]])], run_work=[1000.0, 0.0])
    _, sa = EDFH().schedule(rq)
    assert sa.tolist() == [1]


# --------------------------------------------------------------------------- PREMA-H


def test_prema_job_order_sjf_among_candidates_and_threshold():
    # all tokens at the same level: pure shortest-remaining-first
    assert prema_job_order([3.0, 3.0, 3.0], [5.0, 1.0, 3.0]).tolist() == [1, 2, 0]
    # job 0 passed 9: it is the only candidate, then the threshold falls back to 3
    assert prema_job_order([9.5, 3.0, 3.2], [50.0, 1.0, 3.0]).tolist() == [0, 1, 2]
    # two jobs above 9: SJF among them first
    assert prema_job_order([9.5, 3.0, 12.0], [50.0, 1.0, 30.0]).tolist() == [2, 0, 1]
    # threshold 3 excludes a low-priority job whose token is still below 3
    assert prema_job_order([1.5, 3.0], [1.0, 100.0]).tolist() == [1, 0]
    assert PREMA_LEVELS == (1.0, 3.0, 9.0)


def starvation_queue(now: float) -> ReadyQueue:
    long_job = dict(arrival=0.0, deadline=1e9, cycles=[[1000.0]] * 10)  # critical path 10,000
    short_job = dict(arrival=now, deadline=1e9, cycles=[[50.0]] * 2)
    return queue([long_job, short_job], now=now)


def test_prema_promotes_starved_long_job_once_token_passes_threshold():
    # token of the long job = 3 * (1 + now / 10,000): 4.5 at now = 5,000 (< 9: SJF -> short job first),
    # 10.5 at now = 25,000 (>= 9: the long job is the only candidate and goes first)
    for now, expect_first in ((5_000.0, 1), (25_000.0, 0)):
        rq = starvation_queue(now)
        sched = PremaH()
        prio, sa = sched.schedule(rq)
        top = int(np.argmax(prio))
        assert rq.job[top] == expect_first, now
        assert rq.layer[top] == 0
        assert first_started(rq, prio, sa) == expect_first
    tok = PremaH().tokens(starvation_queue(25_000.0))
    np.testing.assert_allclose(tok, [3 * (1 + 25_000 / 10_000), 3.0])


def test_prema_isolated_latency_per_model_is_used():
    rq = starvation_queue(5_000.0)
    # with an isolated latency of 2,000 cycles for model 0 the long job's token is 3 * 3.5 >= 9
    sched = PremaH(isolated_latency=[2_000.0])
    prio, _ = sched.schedule(rq)
    assert rq.job[int(np.argmax(prio))] == 0


def test_prema_isolated_latency_estimate_is_critical_path():
    # branch: 0 -> {1, 2} -> 3 with fastest cycles 10, 50, 20, 5 -> critical path 65
    rq = queue([dict(arrival=0.0, deadline=1e6, cycles=[[10.0, 11.0], [50.0, 60.0], [20.0, 25.0], [5.0, 5.0]],
                     preds=[[], [0], [0], [1, 2]])])
    assert critical_path_estimate(rq).tolist() == [65.0]


def test_prema_random_classes_are_seeded_and_from_levels():
    jobs = [dict(arrival=float(k), deadline=1e9, cycles=[[100.0]]) for k in range(40)]
    rq = queue(jobs, now=100.0)
    a, b, c = PremaH(job_class="random"), PremaH(job_class="random"), PremaH(job_class="random")
    a.reset(1), b.reset(1), c.reset(2)
    ta, tb, tc = a.tokens(rq), b.tokens(rq), c.tokens(rq)
    np.testing.assert_array_equal(ta, tb)
    assert not np.array_equal(ta, tc)
    cls = {a._cls[j] for j in a._cls}
    assert cls <= set(PREMA_LEVELS) and len(cls) == 3


def test_prema_remaining_time_counts_running_work():
    rq = queue([dict(arrival=0.0, deadline=1e6, cycles=[[10.0, 30.0], [20.0, 5.0]])],
               run_work=[0.0, 700.0], run_job=[-1, 0])
    np.testing.assert_allclose(PremaH.remaining_time(rq), [715.0])


# --------------------------------------------------------------------------- Herald


def test_herald_keeps_dataflow_preference_when_balanced():
    jobs = [dict(arrival=0.0, deadline=1e6, cycles=[[100.0, 300.0], [300.0, 100.0]], preds=[[], []])]
    rq = queue(jobs)
    assert herald_assign(rq).tolist() == [0, 1]


def test_herald_load_balancing_moves_least_penalised_layers():
    # four independent SJs all prefer SA0; moving to SA1 costs x1.2 for two of them, x3 for the others
    cyc = [[100.0, 120.0], [100.0, 300.0], [100.0, 120.0], [100.0, 300.0]]
    rq = queue([dict(arrival=0.0, deadline=1e6, cycles=cyc, preds=[[], [], [], []])])
    sa = herald_assign(rq, imbalance=0.1)
    assert sa.tolist() == [1, 0, 1, 0]  # loads 200 / 240: no further move lowers the max
    # a looser threshold stops earlier: after one move the loads are 300 / 120, imbalance 0.6
    assert herald_assign(rq, imbalance=0.7).tolist() == [1, 0, 0, 0]
    # imbalance 1 disables balancing: pure dataflow preference
    assert herald_assign(rq, imbalance=1.0).tolist() == [0, 0, 0, 0]


def test_herald_load_counts_busy_sa():
    cyc = [[100.0, 150.0], [100.0, 150.0]]
    rq = queue([dict(arrival=0.0, deadline=1e6, cycles=cyc, preds=[[], []])], run_work=[1_000.0, 0.0])
    assert herald_assign(rq).tolist() == [1, 1]


def test_herald_picks_breadth_first_when_it_shortens_the_schedule():
    # A: A0 prefers SA1, A1 prefers SA0; B: B0 prefers SA0, B1 prefers SA1 (loads balanced).
    # Depth-first (A0, A1, B0, B1) serialises B0 behind A1 on SA0: makespan 400.
    # Breadth-first (A0, B0, A1, B1) overlaps them: makespan 200.
    a = dict(arrival=0.0, deadline=1e6, cycles=[[1000.0, 100.0], [100.0, 1000.0]])
    b = dict(arrival=1.0, deadline=1e6, cycles=[[100.0, 1000.0], [1000.0, 100.0]])
    rq = queue([a, b], now=1.0)
    sa = herald_assign(rq)
    assert sa.tolist() == [1, 0, 0, 1]
    order, kind = herald_order(rq, sa)
    assert kind == "breadth"
    assert [(int(rq.job[i]), int(rq.layer[i])) for i in order] == [(0, 0), (1, 0), (0, 1), (1, 1)]
    args = (sa, rq.cycles, rq.pred_ptr, rq.pred_idx, rq.pred_done_time, rq.sa_free, rq.now)
    assert _makespan(order, *args) == pytest.approx(201.0)
    assert _makespan(np.arange(4), *args) == pytest.approx(401.0)
    sched = HeraldScheduler()
    prio, sa2 = sched.schedule(rq)
    assert sched.last_ordering == "breadth"
    np.testing.assert_array_equal(sa2, sa)
    assert np.argsort(-prio, kind="stable").tolist() == order.tolist()


def test_herald_depth_first_on_tie():
    rq = queue([dict(arrival=0.0, deadline=1e6, cycles=[[10.0, 20.0]] * 3)])
    assert herald_order(rq, herald_assign(rq))[1] == "depth"


def test_herald_edp_metric():
    rq = queue([dict(arrival=0.0, deadline=1e6, cycles=[[100.0, 120.0]])])
    with pytest.raises(ValueError):
        herald_assign(rq, metric="edp")  # no energy in this queue
    rq = dataclasses.replace(rq, energy=np.array([[10.0, 5.0]]))  # EDP 1000 vs 600 -> SA1 preferred
    assert herald_assign(rq, metric="edp", imbalance=1.0).tolist() == [1]
    assert herald_assign(rq, metric="latency", imbalance=1.0).tolist() == [0]


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize("name", ["fcfs-h", "edf-h", "prema-h", "herald", "magma", "magma-seeded", "magma-multiseed"])
def test_registered_and_valid_decisions(name):
    rng = np.random.default_rng(3)
    jobs = [dict(arrival=float(k * 10), deadline=float(5_000 + k * 700), cycles=rng.uniform(50, 500, (4, 3)),
                 bw=rng.uniform(1, 8, (4, 3))) for k in range(4)]
    rq = queue(jobs, now=40.0, bandwidth=8.0)
    kw = dict(generations=3, population=6) if name.startswith("magma") else {}
    sched = get_scheduler(name, **kw)
    sched.reset(0)
    prio, sa = sched.schedule(rq)
    assert prio.shape == (rq.size,) and sa.shape == (rq.size,)
    assert prio.dtype == np.float64 and sa.dtype == np.int64
    assert np.isfinite(prio).all() and sa.min() >= 0 and sa.max() < rq.num_sas
