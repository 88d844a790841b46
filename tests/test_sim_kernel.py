"""The event kernel: hand-computed cases, agreement with the plain reference, invariants."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relmas.scheduler import ReadyQueue, run_queue, simulate_out, simulate_out_batch
from relmas.sim.kernel import run_schedule
from relmas.sim.reference import reference_run

INF = math.inf


def csr(preds):
    ptr = np.zeros(len(preds) + 1, np.int64)
    ptr[1:] = np.cumsum([len(p) for p in preds])
    return ptr, np.array([q for p in preds for q in p], np.int64)


def both(n_sa, sa, prio, work, bw, release, deadline, preds, B, **kw):
    """Run the kernel and the reference; assert they agree; return the kernel's result."""
    ptr, idx = csr(preds)
    k = run_schedule(n_sa, np.array(sa), np.array(prio, float), np.array(work, float), np.array(bw, float),
                     np.array(release, float), np.array(deadline, float), ptr, idx, B, **kw)
    r = reference_run(n_sa, list(sa), list(prio), list(work), list(bw), list(release), list(deadline), preds, B,
                      **kw)
    assert_same(k, r)
    return k


def assert_same(k, r, rel=1e-9):
    for a, b in ((k.start, r.start), (k.finish, r.finish), (k.remaining, r.remaining)):
        a, b = np.asarray(a), np.asarray(b)
        assert np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
        ok = ~np.isnan(a)
        np.testing.assert_allclose(a[ok], b[ok], rtol=rel, atol=1e-6)
    np.testing.assert_allclose(k.busy, r.busy, rtol=rel, atol=1e-6)
    assert k.saturated == pytest.approx(r.saturated, rel=rel, abs=1e-6)


# --------------------------------------------------------------------------- #
# hand-computed cases


def test_two_sjs_share_bandwidth():
    # 12 + 12 B/cycle on 16: both at rate 2/3 until the 300-cycle SJ ends at 450;
    # the 600-cycle one has 300 left, alone at rate 1: 750.
    k = both(2, [0, 1], [0, 0], [300, 600], [12, 12], [0, 0], [INF, INF], [[], []], 16.0)
    assert k.start.tolist() == [0.0, 0.0]
    assert k.finish.tolist() == pytest.approx([450.0, 750.0], rel=1e-12)
    assert k.saturated == pytest.approx(450.0)
    assert k.busy.tolist() == pytest.approx([450.0, 750.0])


def test_no_contention_below_bandwidth():
    k = both(2, [0, 1], [0, 0], [300, 600], [8, 8], [0, 0], [INF, INF], [[], []], 16.0)
    assert k.finish.tolist() == [300.0, 600.0]
    assert k.saturated == 0.0


def test_dependency_across_sas():
    k = both(2, [0, 1, 0], [0, 0, 0], [100, 50, 10], [1, 1, 1], [0, 0, 0], [INF] * 3, [[], [0], [1]], 16.0)
    assert k.start.tolist() == [0.0, 100.0, 150.0]
    assert k.finish.tolist() == [100.0, 150.0, 160.0]


def test_drop_at_deadline():
    # SJ 1 waits behind SJ 0 on SA 0 until 200; its deadline 150 has passed: dropped, never starts.
    # SJ 2 depends on the dropped SJ: never starts either. Deadline exactly at the start time also drops.
    k = both(1, [0, 0, 0, 0], [3, 2, 1, 0], [200, 10, 10, 5], [1, 1, 1, 1], [0, 0, 0, 0],
             [INF, 150, INF, 200], [[], [], [1], []], 16.0)
    assert k.finish[0] == 200.0
    assert np.isnan(k.start[1]) and np.isnan(k.start[2]) and np.isnan(k.start[3])


def test_priority_and_ties():
    # one SA, all ready at 0: priority decides; equal priorities go to the lower index
    k = both(1, [0, 0, 0, 0], [1.0, 2.0, 1.0, 2.0], [10, 10, 10, 10], [0, 0, 0, 0], [0] * 4, [INF] * 4,
             [[]] * 4, 16.0)
    assert k.start.tolist() == [20.0, 0.0, 30.0, 10.0]


def test_not_ready_sj_is_skipped():
    # SA 0: SJ 1 has the higher priority but waits for SJ 0 on SA 1; SJ 2 is ready and starts at 0.
    k = both(2, [1, 0, 0], [0, 9, 1], [50, 10, 100], [0, 0, 0], [0, 0, 0], [INF] * 3, [[], [0], []], 16.0)
    assert k.start.tolist() == [0.0, 100.0, 0.0]


def test_release_and_horizon():
    # SJ 1 released at 50; horizon 120 in stop mode: SJ 2 (ready at 110 after SJ 1) cannot start at 130.
    k = both(1, [0, 0, 0], [3, 2, 1], [30, 60, 10], [4, 4, 4], [0, 50, 0], [INF] * 3, [[], [], [1]], 16.0,
             horizon=120.0, stop_at_horizon=True)
    assert k.start[:2].tolist() == [0.0, 50.0]
    assert k.finish[:2].tolist() == [30.0, 110.0]
    assert k.start[2] == 110.0 and k.finish[2] == 120.0
    k = both(1, [0, 0], [2, 1], [100, 10], [4, 4], [0, 0], [INF] * 2, [[], []], 16.0, horizon=60.0,
             stop_at_horizon=True)
    assert np.isnan(k.finish[0]) and k.remaining[0] == pytest.approx(40.0)
    assert np.isnan(k.start[1]) and k.remaining[1] == 10.0
    assert k.busy[0] == pytest.approx(60.0) and k.t_end == 60.0


def test_started_entries_and_zero_bandwidth():
    # SJ 0 already running at t0 = 1000 with 100 cycles left on SA 0; SJ 1 depends on it.
    # SJ 2 has no DRAM traffic: it runs at rate 1 although SJ 0 and 3 saturate DRAM.
    k = both(3, [0, 0, 1, 2], [0, 0, 0, 0], [100, 10, 100, 100], [16, 1, 0, 16], [INF, 1000, 1000, 1000],
             [INF] * 4, [[], [0], [], []], 16.0, started=[True, False, False, False], t0=1000.0)
    assert k.start[0] == 1000.0
    assert k.finish[2] == pytest.approx(1100.0)
    assert k.finish[0] == pytest.approx(1200.0) and k.finish[3] == pytest.approx(1200.0)
    assert k.start[1] == pytest.approx(1200.0)


def test_zero_work_sj_and_simultaneous_finish():
    k = both(2, [0, 1, 0], [0, 0, 0], [0, 0.1 + 0.2, 0.3], [5, 5, 5], [0, 0, 0], [INF] * 3, [[], [], [0]], 4.0)
    assert k.finish[0] == 0.0
    assert k.start[2] == 0.0


def test_input_validation():
    ptr, idx = csr([[]])
    one = np.ones(1)
    with pytest.raises(ValueError, match="sa values"):
        run_schedule(1, np.array([1]), one, one, one, one * 0, one, ptr, idx, 16.0)
    with pytest.raises(ValueError, match="NaN"):
        run_schedule(1, np.array([0]), one * np.nan, one, one, one * 0, one, ptr, idx, 16.0)
    with pytest.raises(ValueError, match="work"):
        run_schedule(1, np.array([0]), one, -one, one, one * 0, one, ptr, idx, 16.0)
    with pytest.raises(ValueError, match="bandwidth"):
        run_schedule(1, np.array([0]), one, one, one, one * 0, one, ptr, idx, 0.0)


# --------------------------------------------------------------------------- #
# random instances: kernel == reference, and the invariants of the model


@st.composite
def instances(draw):
    M = draw(st.integers(1, 4))
    n_jobs = draw(st.integers(1, 6))
    sa, prio, work, bw, rel, dl, preds = [], [], [], [], [], [], []
    for _ in range(n_jobs):
        L = draw(st.integers(1, 5))
        a = float(draw(st.integers(0, 4)) * 100)
        d = a + draw(st.floats(50, 4000))
        base = len(sa)
        for lyr in range(L):
            sa.append(draw(st.integers(0, M - 1)))
            prio.append(float(draw(st.integers(0, 3))))
            work.append(draw(st.one_of(st.integers(0, 10).map(lambda x: 50.0 * x), st.floats(0, 500))))
            bw.append(float(draw(st.sampled_from([0, 2, 4, 8, 12, 16, 20]))))
            rel.append(a)
            dl.append(d)
            p = [base + lyr - 1] if lyr else []
            if lyr > 1 and draw(st.booleans()):
                p.append(base + lyr - 2)
            preds.append(p)
    B = float(draw(st.sampled_from([4.0, 16.0, 24.0])))
    horizon = draw(st.sampled_from([INF, 250.0, 777.7]))
    stop = horizon < INF and draw(st.booleans())
    return dict(n_sa=M, sa=sa, prio=prio, work=work, bw=bw, release=rel, deadline=dl, preds=preds, B=B,
                horizon=horizon, stop=stop)


def check_invariants(inst, k):
    sa, work, bw = np.array(inst["sa"]), np.array(inst["work"]), np.array(inst["bw"])
    B = inst["B"]
    start, finish = k.start, k.finish
    tol = 1e-6
    for i in range(len(sa)):
        if np.isnan(start[i]):
            continue
        assert start[i] >= inst["release"][i] - tol
        assert start[i] < inst["deadline"][i]  # never at or after the deadline
        assert start[i] < inst["horizon"]
        for p in inst["preds"][i]:
            assert not np.isnan(finish[p]) and finish[p] <= start[i] + tol
    # no SA runs two SJs at once
    for m in range(inst["n_sa"]):
        ivs = sorted((start[i], finish[i] if not np.isnan(finish[i]) else k.t_end)
                     for i in np.nonzero((sa == m) & ~np.isnan(start))[0])
        for (s0, f0), (s1, _) in zip(ivs, ivs[1:]):
            assert s1 >= f0 - tol
    # rebuild the rates between consecutive events: bandwidth never above B, and the
    # work delivered to every finished SJ equals its work
    ran = ~np.isnan(start)
    ends = np.where(np.isnan(finish), k.t_end, finish)
    times = np.unique(np.concatenate([start[ran], ends[ran], [k.t_end]]))
    done = np.zeros(len(sa))
    for t0, t1 in zip(times[:-1], times[1:]):
        mid = 0.5 * (t0 + t1)
        run = np.nonzero(ran & (start <= mid) & (ends > mid))[0]
        demand = bw[run].sum()
        scale = min(1.0, B / demand) if demand > 0 else 1.0
        rates = np.where(bw[run] == 0, 1.0, scale)
        assert (bw[run] * rates).sum() <= B * (1 + 1e-9) + 1e-9
        done[run] += rates * (t1 - t0)
    fin = ~np.isnan(finish)
    np.testing.assert_allclose(done[fin], work[fin], rtol=1e-7, atol=1e-6)
    still = ran & ~fin
    np.testing.assert_allclose(done[still] + k.remaining[still], work[still], rtol=1e-7, atol=1e-6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_kernel_matches_reference_and_invariants(inst):
    k = both(inst["n_sa"], inst["sa"], inst["prio"], inst["work"], inst["bw"], inst["release"], inst["deadline"],
             inst["preds"], inst["B"], horizon=inst["horizon"], stop_at_horizon=inst["stop"])
    check_invariants(inst, k)


# --------------------------------------------------------------------------- #
# ready-queue helpers: simulate_out, run_queue, the batched fitness entry point


def small_rq(rng: np.random.Generator, R: int = 30, M: int = 3) -> ReadyQueue:
    job, layer, arr, dl, preds = [], [], [], [], []
    j = 0
    while len(job) < R:
        L = int(min(rng.integers(1, 7), R - len(job)))
        a = float(rng.uniform(0, 1000))
        base = len(job)
        for lyr in range(L):
            job.append(j)
            layer.append(lyr)
            arr.append(a)
            dl.append(1000.0 + float(rng.uniform(200, 3000)))
            preds.append([base + lyr - 1] if lyr else [])
        j += 1
    preds[0].append(R + 1)  # waits for the SJ running on SA 1
    cycles = rng.uniform(10, 400, size=(R, M)).round()
    bw = rng.uniform(0, 14, size=(R, M))
    return ReadyQueue.create(now=1000.0, period=500.0, bandwidth=16.0, job=np.array(job), layer=np.array(layer),
                             arrival=np.array(arr), deadline=np.array(dl), cycles=cycles, bw=bw, preds=preds,
                             run_work=np.array([0.0, 120.0, 40.0]), run_bw=np.array([0.0, 9.0, 9.0]),
                             run_job=np.array([-1, j + 1, 0]), pre_work=np.array([25.0, 0.0, 0.0]))


def rq_reference(rq: ReadyQueue, priority, sa, drop=True, **kw):
    """The queue's schedule through the plain reference (same layout as run_queue)."""
    R, M = rq.size, rq.num_sas
    preds = [list(rq.preds(i)) for i in range(R)] + [[] for _ in range(2 * M)]
    s = list(sa) + list(range(M)) + list(range(M))
    pr = list(priority) + [0.0] * M + [INF] * M
    work = [rq.cycles[i, sa[i]] for i in range(R)] + list(np.where(rq.run_active, rq.run_work, 0)) + list(
        rq.pre_work)
    bw = [rq.bw[i, sa[i]] for i in range(R)] + list(np.where(rq.run_active, rq.run_bw, 0)) + [0.0] * M
    rel = list(rq.arrival) + [INF] * M + [rq.now if w > 0 else INF for w in rq.pre_work]
    dl = (list(rq.deadline) if drop else [INF] * R) + [INF] * (2 * M)
    started = [False] * R + list(rq.run_active) + [False] * M
    return reference_run(M, s, pr, work, bw, rel, dl, preds, rq.bandwidth, started=started, t0=rq.now, **kw)


def test_run_queue_matches_reference():
    rng = np.random.default_rng(3)
    for _ in range(20):
        rq = small_rq(rng)
        pr = rng.integers(0, 5, rq.size).astype(float)
        sa = rng.integers(0, rq.num_sas, rq.size)
        assert_same(run_queue(rq, pr, sa), rq_reference(rq, pr, sa))
        hz = rq.now + 300.0
        assert_same(run_queue(rq, pr, sa, horizon=hz, stop_at_horizon=True),
                    rq_reference(rq, pr, sa, horizon=hz, stop_at_horizon=True))
        f = simulate_out(rq, pr, sa, drop=False)
        assert not np.isnan(f).any()


def test_overhead_and_running_slots_in_queue():
    rng = np.random.default_rng(4)
    rq = small_rq(rng)
    res = run_queue(rq, np.zeros(rq.size), np.zeros(rq.size, np.int64))
    R, M = rq.size, rq.num_sas
    # the 25-cycle overhead runs first on SA 0; the first SA-0 SJ starts right after it
    assert res.start[R + M] == 1000.0 and res.finish[R + M] == pytest.approx(1025.0)
    assert np.nanmin(res.start[:R]) == pytest.approx(1025.0)
    # SJ 0 waits for the SJ running on SA 1
    assert res.start[0] >= res.finish[R + 1]


def test_batch_matches_single():
    rng = np.random.default_rng(5)
    rq = small_rq(rng, R=40)
    P = 16
    pr = rng.random((P, rq.size))
    pr[3] = 0.5  # all ties
    sa = rng.integers(0, rq.num_sas, (P, rq.size))
    out = simulate_out_batch(rq, pr, sa)
    assert out.finish.shape == (P, rq.size) and out.job_finish.shape == (P, len(rq.jobs))
    for p in range(P):
        f = simulate_out(rq, pr[p], sa[p])
        np.testing.assert_array_equal(out.finish[p], f)
        r = rq_reference(rq, pr[p], sa[p])
        np.testing.assert_allclose(out.finish[p], r.finish[:rq.size], rtol=1e-9)
        for jpos, j in enumerate(rq.jobs):
            fj = f[rq.job == j]
            expect = np.nan if np.isnan(fj).any() else fj.max()
            for m in range(rq.num_sas):
                if rq.run_job[m] == j and not np.isnan(expect):
                    expect = max(expect, r.finish[rq.size + m])
            np.testing.assert_allclose(out.job_finish[p, jpos], expect, rtol=1e-12)
        dl = rq.job_deadline
        assert out.hits[p] == int(np.sum(out.job_finish[p][~np.isnan(out.job_finish[p])]
                                         <= dl[~np.isnan(out.job_finish[p])]))
    with pytest.raises(ValueError):
        simulate_out_batch(rq, pr, sa + rq.num_sas)
