"""The shared earliest-finish SA heuristic, FCFS-H, the random scheduler and the registry."""
from __future__ import annotations

import numpy as np
import pytest

from baselines.fcfs import FCFSH, fcfs_priority
from baselines.sa_heuristic import earliest_finish_sa, heuristic_sa
from relmas.scheduler import (ReadyQueue, RandomScheduler, Scheduler, available_schedulers, get_scheduler,
                              register_scheduler)


def rq_of(cycles, preds, arrival=None, job=None, layer=None, run_work=None, now=0.0, deadline=None):
    cycles = np.asarray(cycles, float)
    R, M = cycles.shape
    return ReadyQueue.create(
        now=now, period=100.0, bandwidth=16.0,
        job=np.arange(R) if job is None else np.asarray(job), layer=np.zeros(R, int) if layer is None else layer,
        arrival=np.full(R, now) if arrival is None else np.asarray(arrival, float),
        deadline=np.full(R, now + 1e6) if deadline is None else np.asarray(deadline, float),
        cycles=cycles, bw=np.ones((R, M)), preds=preds, run_work=run_work)


def test_heuristic_picks_earliest_finish():
    # SJ 0 is faster on SA 1; SJ 1 too, but SA 1 is then busy until 100: SA 0 finishes it at 80 < 100 + 60
    rq = rq_of([[200, 100], [80, 60]], [[], []])
    sa, est = earliest_finish_sa(rq, np.array([1.0, 0.0]))
    assert sa.tolist() == [1, 0] and est.tolist() == [100.0, 80.0]
    # the other priority order: SJ 1 first takes SA 1 (60); SJ 0 then SA 1 at 160 vs SA 0 at 200
    sa, est = earliest_finish_sa(rq, np.array([0.0, 1.0]))
    assert sa.tolist() == [1, 1] and est.tolist() == [160.0, 60.0]


def test_heuristic_uses_busy_sas_and_predecessors():
    # SA 0 busy for 500 cycles; SJ 1 depends on SJ 0 and on the SJ running on SA 0 (entry R + 0 = 2)
    rq = rq_of([[10, 50], [10, 50]], [[], [0, 2]], run_work=[500.0, 0.0], now=1000.0)
    sa, est = earliest_finish_sa(rq, np.array([1.0, 0.0]))
    assert sa[0] == 1 and est[0] == 1050.0
    # SJ 1 cannot start before 1500 (running predecessor): SA 0 is free then too, and faster
    assert sa[1] == 0 and est[1] == 1510.0
    # a predecessor placed later in the pass counts with its lower-bound finish
    sa, est = earliest_finish_sa(rq_of([[10, 50], [10, 50]], [[], [0]]), np.array([0.0, 1.0]))
    # (SJ 0's lower bound: 0 + 10; SJ 1 starts at 10 on SA 0 -> 20; SJ 0 then on SA 0 at 20 -> 30)
    assert est.tolist() == [30.0, 20.0] and sa.tolist() == [0, 0]


def test_tie_break_affinity_keeps_a_chain_on_its_predecessors_sa():
    # SJ 0 follows the SJ running on SA 1 (entry R + 1 = 3); SA 0 is idle: both finish it at 510
    rq = rq_of([[10, 10], [10, 10]], [[3], []], run_work=[0.0, 500.0])
    assert heuristic_sa(rq, np.array([1.0, 0.0])).tolist() == [0, 1]   # index: the tie goes to SA 0
    assert heuristic_sa(rq, np.array([1.0, 0.0]), "affinity").tolist() == [1, 0]
    # a predecessor placed earlier in the pass: SA 0 busy until 5, so SJ 0 goes to SA 1 (10 < 15); SJ 1,
    # ready at 10, then ties at 20 on both SAs
    rq = rq_of([[10, 10], [10, 10]], [[], [0]], run_work=[5.0, 0.0])
    assert heuristic_sa(rq, np.array([1.0, 0.0])).tolist() == [1, 0]
    assert heuristic_sa(rq, np.array([1.0, 0.0]), "affinity").tolist() == [1, 1]
    # affinity only breaks ties: a predecessor's SA that finishes later is not kept
    rq = rq_of([[10, 10], [10, 11]], [[], [0]], run_work=[5.0, 0.0])
    assert heuristic_sa(rq, np.array([1.0, 0.0]), "affinity").tolist() == [1, 0]
    # the binding predecessor (the one finishing last) decides: running on SA 0 until 50, on SA 1 until 30
    rq = rq_of([[10, 10]], [[1, 2]], run_work=[50.0, 30.0])
    assert heuristic_sa(rq, np.array([1.0]), "affinity").tolist() == [0]
    rq = rq_of([[10, 10]], [[1, 2]], run_work=[30.0, 50.0])
    assert heuristic_sa(rq, np.array([1.0]), "affinity").tolist() == [1]
    # a predecessor placed later in the pass has no SA yet: the tie (20 on both) falls back to the index
    rq = rq_of([[10, 10], [10, 10]], [[1], []])
    for rule in ("index", "affinity", "fit"):
        sa, est = earliest_finish_sa(rq, np.array([1.0, 0.0]), rule)
        assert sa.tolist() == [0, 1] and est.tolist() == [20.0, 10.0]


def test_tie_break_fit_takes_the_smallest_idle_gap_and_tolerance_widens_the_tie():
    # SJ 0 follows the SJ running on SA 1 until 500: both SAs finish it at 510, but SA 0 would idle
    # 500 cycles before it starts, SA 1 none; SJ 1 (ready now) then takes idle SA 0
    rq = rq_of([[10, 10], [10, 10]], [[3], []], run_work=[0.0, 500.0])
    assert heuristic_sa(rq, np.array([1.0, 0.0]), "fit").tolist() == [1, 0]
    # SA 1 a tenth of a cycle slower (as a decision-overhead charge on it would make it): no exact tie,
    # so every rule takes SA 0; within a tolerance of 5% of the SJ's 10 cycles it ties again
    rq = rq_of([[10, 10.1], [10, 10]], [[3], []], run_work=[0.0, 500.0])
    for rule in ("index", "affinity", "fit"):
        assert heuristic_sa(rq, np.array([1.0, 0.0]), rule).tolist() == [0, 1]
    assert heuristic_sa(rq, np.array([1.0, 0.0]), "index", 0.05).tolist() == [0, 1]
    for rule in ("affinity", "fit"):
        sa, est = earliest_finish_sa(rq, np.array([1.0, 0.0]), rule, 0.05)
        assert sa.tolist() == [1, 0] and est.tolist() == [510.1, 10.0]
    # with a tolerance the index rule takes the lowest tied index even when it finishes later
    rq = rq_of([[10.1, 10]], [[]])
    assert heuristic_sa(rq, np.array([1.0])).tolist() == [1]
    assert heuristic_sa(rq, np.array([1.0]), "index", 0.05).tolist() == [0]
    assert heuristic_sa(rq, np.array([1.0]), "index", 0.005).tolist() == [1]
    # fit among equal idle gaps: the earlier finish, then the lower index
    assert heuristic_sa(rq, np.array([1.0]), "fit", 0.05).tolist() == [1]
    assert heuristic_sa(rq_of([[10, 10.3, 10]], [[]]), np.array([1.0]), "fit", 0.05).tolist() == [0]
    assert heuristic_sa(rq_of([[10.3, 10, 10]], [[]]), np.array([1.0]), "fit", 0.05).tolist() == [1]


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "wide", "0.05", True, None])
def test_tie_tolerance_must_be_a_finite_non_negative_number(bad):
    rq = rq_of([[10, 10]], [[]])
    with pytest.raises(ValueError, match="tie_tolerance"):
        heuristic_sa(rq, np.array([1.0]), "fit", bad)
    with pytest.raises(ValueError, match="tie_tolerance"):
        get_scheduler("edf-h", tie_tolerance=bad)


def test_the_pass_keeps_the_earliest_finish_when_an_estimate_is_not_finite():
    """A NaN latency never wins (the SA with a finite earliest finish does), under every rule."""
    rq = rq_of([[np.nan, 10]], [[]])
    for rule in ("index", "affinity", "fit"):
        for tol in (0.0, 0.05):
            sa, est = earliest_finish_sa(rq, np.array([1.0]), rule, tol)
            assert sa.tolist() == [1] and est.tolist() == [10.0]


@pytest.mark.parametrize("name", ["fcfs-h", "edf-h", "prema-h"])
def test_heuristic_schedulers_take_the_tie_break(name):
    rq = rq_of([[10, 10], [10, 10]], [[3], []], run_work=[0.0, 500.0])
    assert get_scheduler(name).schedule(rq)[1][0] == 0
    assert get_scheduler(name, tie_break="affinity").schedule(rq)[1][0] == 1
    assert get_scheduler(name, tie_break="fit").schedule(rq)[1][0] == 1
    rq = rq_of([[10, 10.1], [10, 10]], [[3], []], run_work=[0.0, 500.0])
    assert get_scheduler(name, tie_break="fit").schedule(rq)[1][0] == 0
    assert get_scheduler(name, tie_break="fit", tie_tolerance=0.05).schedule(rq)[1][0] == 1
    with pytest.raises(ValueError, match="tie_break"):
        get_scheduler(name, tie_break="random")


def test_bench_heuristic_100_sjs(benchmark):
    """pytest-benchmark: one -H pass over 100 SJs on 6 SAs, tie-break fit with a 5% tolerance (the most
    work per SJ); target well under 1 ms. Also checks the pass leaves the default rule's answer alone."""
    rng = np.random.default_rng(0)
    R, M = 100, 6
    preds = [[] if i % 10 == 0 else [i - 1] for i in range(R)]
    rq = rq_of(rng.uniform(1e3, 1e5, (R, M)), preds, job=np.arange(R) // 10, layer=np.arange(R) % 10)
    pr = rng.random(R)
    ref = heuristic_sa(rq, pr)  # compiles outside the measurement
    heuristic_sa(rq, pr, "fit", 0.05)
    sa = benchmark(heuristic_sa, rq, pr, "fit", 0.05)
    assert sa.shape == (R,) and sa.min() >= 0 and sa.max() < M
    assert np.array_equal(heuristic_sa(rq, pr), ref)


def test_fcfs_h_orders_by_arrival_then_layer():
    rq = rq_of([[10, 10]] * 4, [[], [0], [], []], arrival=[0, 0, 5, 5], job=[0, 0, 1, 2], layer=[0, 1, 0, 0],
               now=10.0)
    pr = fcfs_priority(rq)
    assert np.argsort(-pr).tolist() == [0, 1, 2, 3]
    pr2, sa = FCFSH().schedule(rq)
    assert np.array_equal(pr, pr2) and sa.tolist() == heuristic_sa(rq, pr).tolist()
    # 4 SJs of 10 cycles on 2 equal SAs in FCFS order: 0 -> SA0, 1 after 0 -> SA0 (ties: lower SA), ...
    assert sa.tolist() == [0, 0, 1, 1]


def test_random_scheduler_seeded():
    rq = rq_of(np.ones((20, 3)), [[]] * 20)
    a, b = RandomScheduler(), RandomScheduler()
    a.reset(7)
    b.reset(7)
    pa, sa = a.schedule(rq)
    pb, sb = b.schedule(rq)
    assert np.array_equal(pa, pb) and np.array_equal(sa, sb)
    assert sa.min() >= 0 and sa.max() < 3 and ((pa >= 0) & (pa < 1)).all()
    b.reset(8)
    assert not np.array_equal(b.schedule(rq)[0], pa)


def test_registry():
    names = available_schedulers()
    assert "random" in names and "fcfs-h" in names
    assert isinstance(get_scheduler("FCFS-H"), FCFSH)
    assert isinstance(get_scheduler("random", seed=3), RandomScheduler)
    with pytest.raises(KeyError, match="unknown scheduler"):
        get_scheduler("no-such-scheduler")

    class Mine(Scheduler):
        name = "mine-test"

    register_scheduler("mine-test", Mine)
    register_scheduler("mine-test", Mine)  # the same factory again is fine
    with pytest.raises(ValueError, match="already registered"):
        register_scheduler("mine-test", RandomScheduler)
    assert isinstance(get_scheduler("mine-test"), Mine)
    with pytest.raises(NotImplementedError):
        Mine().schedule(rq_of(np.ones((1, 1)), [[]]))
    assert Mine().decision_overhead(rq_of(np.ones((1, 1)), [[]])) is None
