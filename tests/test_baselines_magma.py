"""MAGMA: operators, fitness, monotone best fitness, the optimum of an enumerable case, seeding, speed."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from baselines import ga_ops
from baselines.edf import EDFH
from baselines.magma import SEED_HEURISTICS, Magma, MagmaMultiSeed, MagmaSeeded, magma_fitness, priority_to_order
from baselines.prema import PremaH
from relmas.cli.bench_magma import synthetic_queue
from relmas.scheduler import ReadyQueue, simulate_out

# --------------------------------------------------------------------------- operators


def parents(seed=0, n=6, r=12, m=4):
    rng = np.random.default_rng(seed)
    sa, order = ga_ops.random_population(rng, n, r, m)
    return rng, sa, order, ga_ops.parent_weights(np.arange(n, dtype=float)[::-1])


def rows_from(child_sa, child_or, psa, pord):
    """Index of the parent equal to each child, or -1."""
    out = []
    for s, o in zip(child_sa, child_or):
        hit = [k for k in range(psa.shape[0]) if np.array_equal(psa[k], s) and np.array_equal(pord[k], o)]
        out.append(hit[0] if hit else -1)
    return out


def test_random_population_ranges():
    rng = np.random.default_rng(0)
    sa, order = ga_ops.random_population(rng, 50, 30, 6)
    assert sa.shape == order.shape == (50, 30)
    assert sa.min() == 0 and sa.max() == 5 and 0.0 <= order.min() and order.max() < 1.0


def test_draw_pairs_distinct_and_weighted():
    rng = np.random.default_rng(1)
    w = np.array([0.7, 0.1, 0.1, 0.1])
    a, b = ga_ops.draw_pairs(rng, w, 20_000)
    assert (a != b).all()
    counts = np.bincount(np.concatenate([a, b]), minlength=4) / 40_000
    assert counts[0] > 0.4 and counts[0] == counts.max()


def test_parent_weights_follow_magma():
    w = ga_ops.parent_weights(np.array([5.0, 3.0, 2.0]))
    np.testing.assert_allclose(w, np.array([4.0, 2.0, 1.0]) / 7.0)


def distinct_parents(r=12):
    """Two parents that differ in every gene: SA 0 / 1, order genes below / above 0.5."""
    rng = np.random.default_rng(9)
    psa = np.array([np.zeros(r, np.int64), np.ones(r, np.int64)])
    pord = np.array([rng.uniform(0, 0.5, r), rng.uniform(0.5, 1.0, r)])
    return psa, pord, np.array([0.5, 0.5])


def test_crossover_gen_true_exchange_within_one_genome():
    r = 12
    psa, pord, w = distinct_parents(r)
    csa, cord = ga_ops.crossover_gen(np.random.default_rng(0), psa, pord, w, 400, rate=1.0)
    exchanged = 0
    for k in range(0, 400, 2):
        d = int(csa[k, 0] if cord[k, 0] == pord[csa[k, 0], 0] else 1 - csa[k, 0])
        dad = d if (np.array_equal(csa[k], psa[d]) or np.array_equal(cord[k], pord[d])) else 1 - d
        mom = 1 - dad
        # one genome only: the other genome of each child is its own parent's, untouched
        sa_same = np.array_equal(csa[k], psa[dad]) and np.array_equal(csa[k + 1], psa[mom])
        or_same = np.array_equal(cord[k], pord[dad]) and np.array_equal(cord[k + 1], pord[mom])
        assert sa_same or or_same
        row_c0, row_c1, row_d, row_m = ((cord[k], cord[k + 1], pord[dad], pord[mom]) if sa_same
                                        else (csa[k], csa[k + 1], psa[dad], psa[mom]))
        seg = row_c0 != row_d
        # a true exchange: child 0 has mom's genes exactly where child 1 has dad's
        np.testing.assert_array_equal(row_c0[seg], row_m[seg])
        np.testing.assert_array_equal(row_c1[seg], row_d[seg])
        np.testing.assert_array_equal(row_c1[~seg], row_m[~seg])
        idx = np.nonzero(seg)[0]
        if idx.size:
            exchanged += 1
            # a prefix [:p] with p < R // 2, or a suffix [p:] with p >= R // 2
            contiguous = idx[-1] - idx[0] + 1 == idx.size
            assert contiguous and ((idx[0] == 0 and idx.size < r // 2) or (idx[-1] == r - 1 and idx[0] >= r // 2))
    assert exchanged > 150


def test_crossover_gen_quirk_leaves_second_child_a_copy():
    rng, psa, pord, w = parents(2)
    csa, cord = ga_ops.crossover_gen(rng, psa, pord, w, 200, rate=1.0, quirks=True)
    assert all(k >= 0 for k in rows_from(csa[1::2], cord[1::2], psa, pord))
    # first children do change
    assert any(k < 0 for k in rows_from(csa[0::2], cord[0::2], psa, pord))


def test_crossover_rg_moves_ranges_with_both_genes():
    rng, psa, pord, w = parents(3)
    csa = np.zeros((100, psa.shape[1]), np.int64)
    cord = np.full((100, psa.shape[1]), -1.0)
    ga_ops.crossover_rg(rng, psa, pord, w, csa, cord, rate=1.0)
    for k in range(0, 100, 2):
        # children are complementary: each column pair (sa, order) comes from the same parent
        ok = False
        for d, m in itertools.permutations(range(psa.shape[0]), 2):
            for p in range(psa.shape[1]):
                pre = np.arange(psa.shape[1]) < p
                if (np.array_equal(csa[k], np.where(pre, psa[m], psa[d]))
                        and np.array_equal(cord[k], np.where(pre, pord[m], pord[d]))
                        and np.array_equal(csa[k + 1], np.where(pre, psa[d], psa[m]))
                        and np.array_equal(cord[k + 1], np.where(pre, pord[d], pord[m]))):
                    ok = True
                    break
            if ok:
                break
        assert ok
    csa2 = np.zeros_like(csa)
    cord2 = np.zeros_like(cord)
    ga_ops.crossover_rg(np.random.default_rng(3), psa, pord, w, csa2, cord2, rate=1.0, quirks=True)
    np.testing.assert_array_equal(csa2[0::2], csa2[1::2])  # the code's identical children


def test_crossover_rg_rate_zero_keeps_children():
    rng, psa, pord, w = parents(4)
    csa = np.zeros((10, psa.shape[1]), np.int64)
    cord = np.zeros((10, psa.shape[1]))
    ga_ops.crossover_rg(rng, psa, pord, w, csa, cord, rate=0.0)
    assert not csa.any() and not cord.any()


def test_crossover_acc_child_runs_moms_jobs_on_the_accelerator():
    rng, psa, pord, w = parents(5, n=2, r=40, m=4)
    csa = np.full((200, 40), -1, np.int64)
    cord = np.full((200, 40), -1.0)
    ga_ops.crossover_acc(rng, psa, pord, w, csa, cord, m=4, rate=1.0)
    assert (csa >= 0).all()
    for c in range(200):
        for dad, mom in ((0, 1), (1, 0)):
            ok = False
            for a in range(4):
                mom_on = psa[mom] == a
                # mom's jobs on a with mom's genes; nothing else on a; other jobs keep dad's genes
                if not (np.array_equal(csa[c][mom_on], psa[mom][mom_on])
                        and np.array_equal(cord[c][mom_on], pord[mom][mom_on])):
                    continue
                if not np.array_equal(csa[c] == a, mom_on):
                    continue
                rest = ~mom_on & ~(psa[dad] == a)
                if (np.array_equal(csa[c][rest], psa[dad][rest])
                        and np.array_equal(cord[c][~mom_on], pord[dad][~mom_on])):
                    ok = True
                    break
            if ok:
                break
        assert ok, c


def test_mutate_rates():
    rng = np.random.default_rng(6)
    sa, order = ga_ops.random_population(rng, 20, 50, 6)
    sa0, or0 = sa.copy(), order.copy()
    ga_ops.mutate(rng, sa, order, 6, rate=0.0)
    np.testing.assert_array_equal(sa, sa0)
    np.testing.assert_array_equal(order, or0)
    ga_ops.mutate(rng, sa, order, 6, rate=1.0)
    assert (order != or0).mean() > 0.99 and (sa != sa0).mean() > 0.7
    assert sa.min() >= 0 and sa.max() < 6
    sa, order = sa0.copy(), or0.copy()
    ga_ops.mutate(rng, sa, order, 6, rate=0.05)
    assert 0.02 < (order != or0).mean() < 0.08


# --------------------------------------------------------------------------- fitness


def two_job_queue() -> ReadyQueue:
    # one SA; job 0: 1 SJ of 100 cycles, deadline 150; job 1: 1 SJ of 100 cycles, deadline 250
    return ReadyQueue.create(now=0.0, period=100.0, bandwidth=10.0, job=[0, 1], layer=[0, 0], arrival=[0.0, 0.0],
                             deadline=[150.0, 250.0], cycles=np.array([[100.0], [100.0]]),
                             bw=np.array([[1.0], [1.0]]), preds=[[], []])


def test_fitness_is_hits_plus_weighted_mean_slack():
    rq = two_job_queue()
    prio = np.array([[1.0, 0.0], [0.0, 1.0]])
    sa = np.zeros((2, 2), np.int64)
    fit, hits = magma_fitness(rq, prio, sa, slack_weight=0.4)
    # job 0 first: finishes 100 (slack 50/150), job 1 at 200 (slack 50/250): both hit
    # job 1 first: job 1 at 100 (slack 150/250), job 0 starts at 100 < 150 and ends at 200: miss, slack -50/150
    np.testing.assert_array_equal(hits, [2, 1])
    np.testing.assert_allclose(fit, [2 + 0.4 * (50 / 150 + 50 / 250) / 2, 1 + 0.4 * (-50 / 150 + 150 / 250) / 2])
    fit0, _ = magma_fitness(rq, prio, sa, slack_weight=0.0)
    np.testing.assert_allclose(fit0, [2.0, 1.0])


def test_fitness_counts_dropped_job_as_minus_one_and_uses_contention():
    # job 0 deadline 50 cannot start after job 1's 100 cycles: dropped (slack -1)
    rq = ReadyQueue.create(now=0.0, period=100.0, bandwidth=10.0, job=[0, 1], layer=[0, 0], arrival=[0.0, 0.0],
                           deadline=[50.0, 1000.0], cycles=np.array([[100.0], [100.0]]),
                           bw=np.array([[1.0], [1.0]]), preds=[[], []])
    fit, hits = magma_fitness(rq, np.array([[0.0, 1.0]]), np.zeros((1, 2), np.int64), slack_weight=0.4)
    assert hits.tolist() == [1]
    np.testing.assert_allclose(fit, [1 + 0.4 * (-1.0 + 0.9) / 2])
    # two SAs, demand 2 x 10 B/cycle on B = 10: both run at half speed and finish at 200
    rq2 = ReadyQueue.create(now=0.0, period=100.0, bandwidth=10.0, job=[0, 1], layer=[0, 0], arrival=[0.0, 0.0],
                            deadline=[1000.0, 1000.0], cycles=np.full((2, 2), 100.0), bw=np.full((2, 2), 10.0),
                            preds=[[], []])
    fit2, _ = magma_fitness(rq2, np.array([[1.0, 0.0]]), np.array([[0, 1]]), slack_weight=1.0)
    np.testing.assert_allclose(fit2, [2 + (800 / 1000)])
    np.testing.assert_allclose(simulate_out(rq2, np.array([1.0, 0.0]), np.array([0, 1])), [200.0, 200.0])


def test_priority_to_order_round_trip():
    prio = np.array([3.0, 9.0, 3.0, -1.0, 5.0])
    gene = priority_to_order(prio)
    assert np.argsort(gene, kind="stable").tolist() == np.argsort(-prio, kind="stable").tolist()
    assert gene.min() >= 0 and gene.max() < 1


# --------------------------------------------------------------------------- the GA


def test_best_fitness_never_decreases_and_is_deterministic():
    rq = synthetic_queue(60, 6, seed=1)
    a = Magma(generations=25, population=20, seed=7)
    pa, sa = a.schedule(rq)
    h = a.last.history
    assert h.shape == (26,)
    assert (np.diff(h) >= 0).all()
    assert h[-1] > h[0]
    assert a.last.evaluations == 20 * 26
    # the returned decision has the reported fitness
    fit, hits = magma_fitness(rq, pa[None], sa[None])
    assert fit[0] == pytest.approx(a.last.fitness) and hits[0] == a.last.hits
    b = Magma(generations=25, population=20, seed=0)
    b.reset(7)
    pb, sb = b.schedule(rq)
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(sa, sb)


def tiny_queue() -> ReadyQueue:
    """6 SJs (two 2-layer jobs, two 1-layer jobs), 2 SAs, contention on B = 8; drawn from seed 5."""
    rng = np.random.default_rng(5)
    cyc = rng.uniform(100, 500, (6, 2)).round()
    bw = rng.uniform(1, 8, (6, 2)).round()
    job = [0, 0, 1, 1, 2, 3]
    dl = rng.uniform(500, 1100, 4).round()
    return ReadyQueue.create(now=0.0, period=500.0, bandwidth=8.0, job=job, layer=[0, 1, 0, 1, 0, 0],
                             arrival=[0.0] * 6, deadline=[float(dl[j]) for j in job], cycles=cyc, bw=bw,
                             preds=[[], [0], [], [2], [], []])


def enumerate_optimum(rq: ReadyQueue, slack_weight: float) -> float:
    R, M = rq.size, rq.num_sas
    prios, sas = [], []
    for perm in itertools.permutations(range(R)):
        prio = np.empty(R)
        prio[list(perm)] = np.arange(R, 0, -1, dtype=float)
        for assign in itertools.product(range(M), repeat=R):
            prios.append(prio)
            sas.append(assign)
    fit, _ = magma_fitness(rq, np.array(prios), np.array(sas, np.int64), slack_weight)
    return float(fit.max())


@pytest.mark.parametrize("quirks", [False, True])
def test_finds_the_enumerated_optimum_on_a_tiny_case(quirks):
    rq = tiny_queue()
    best = enumerate_optimum(rq, 0.4)
    # random decisions rarely get there: the optimum is not trivial
    rnd = Magma(generations=0, population=100, seed=1)
    rnd.schedule(rq)
    assert rnd.last.fitness < best - 1e-9
    found = 0
    for seed in range(3):
        m = Magma(generations=100, population=100, seed=seed, quirks=quirks)
        m.schedule(rq)
        assert m.last.fitness <= best + 1e-9
        found += m.last.fitness == pytest.approx(best, abs=1e-9)
    assert found >= 2


def test_seeded_starts_from_edf_and_never_does_worse():
    rq = synthetic_queue(80, 6, seed=11)
    p_edf, s_edf = EDFH().schedule(rq)
    f_edf, _ = magma_fitness(rq, p_edf[None], s_edf[None])
    m = MagmaSeeded(generations=10, population=20, seed=3)
    assert m.init == "edf" and m.name == "magma-seeded"
    m.schedule(rq)
    assert m.last.history[0] >= f_edf[0] - 1e-12
    assert m.last.fitness >= f_edf[0] - 1e-12


def test_multiseed_population_opens_with_each_heuristic_and_beats_them_all():
    rq = synthetic_queue(80, 6, seed=11)
    m = MagmaMultiSeed(generations=10, population=20, seed=3)
    assert m.init == "heuristics" and m.name == "magma-multiseed"
    sa, order = m._initial(rq)
    fits = []
    fit = {"tie_break": "fit", "tie_tolerance": 0.05}
    for k, (h, kw) in enumerate([(EDFH, {}), (PremaH, {}), (EDFH, {"tie_break": "affinity"}),
                                 (PremaH, {"tie_break": "affinity"}), (EDFH, fit), (PremaH, fit)]):
        assert SEED_HEURISTICS[k][0] is h and SEED_HEURISTICS[k][1] == kw
        p, s_ = h(**kw).schedule(rq)
        np.testing.assert_array_equal(sa[k], s_)
        np.testing.assert_array_equal(np.argsort(order[k], kind="stable"), np.argsort(-p, kind="stable"))
        fits.append(magma_fitness(rq, p[None], s_[None])[0][0])
    # the rest of the population stays random, and the answer is at least the best heuristic's
    assert not np.array_equal(sa[6], sa[7])
    m.reset(3)
    m.schedule(rq)
    assert m.last.history[0] >= max(fits) - 1e-12 and m.last.fitness >= max(fits) - 1e-12
    with pytest.raises(ValueError, match="magma-multiseed: init='heuristics' needs population >= 6, got 5"):
        MagmaMultiSeed(population=5)


@pytest.mark.parametrize("cls", [Magma, MagmaSeeded, MagmaMultiSeed])
def test_extra_individuals_join_the_initial_population_after_the_seeded_ones(cls):
    rq = synthetic_queue(60, 6, seed=4)
    rng = np.random.default_rng(0)
    extra = [(rng.standard_normal(rq.size), rng.integers(0, 6, rq.size)) for _ in range(2)]
    m = cls(generations=0, population=10, seed=1)
    base_sa, base_order = m._initial(rq)
    m.reset(1)
    sa, order = m._initial(rq, extra)
    k = {"random": 0, "edf": 1, "heuristics": len(SEED_HEURISTICS)}[m.init]
    np.testing.assert_array_equal(sa[:k], base_sa[:k])  # the seeded individuals are unchanged
    for j, (p, s_) in enumerate(extra):
        np.testing.assert_array_equal(sa[k + j], s_)
        np.testing.assert_array_equal(np.argsort(order[k + j], kind="stable"), np.argsort(-p, kind="stable"))
    # the search's answer is at least as good as every extra decision
    m.reset(1)
    best = m.search(rq, extra)
    for p, s_ in extra:
        assert best.fitness >= magma_fitness(rq, p[None], s_[None])[0][0] - 1e-12
    assert m.free_slots == 10 - k
    with pytest.raises(ValueError, match="do not fit"):
        cls(generations=0, population=max(2, k + 1), seed=1).search(rq, extra * 2)


def test_multiseed_reset_forgets_the_seeders_state():
    """Reset clears PREMA-H's per-job estimates with the GA's stream: the same instance, reset with the
    same seed, decides the same again."""
    queues = [synthetic_queue(40, 4, seed=s) for s in (5, 6, 7)]
    m = MagmaMultiSeed(generations=3, population=6, seed=2)
    m.reset(9)
    first = [m.schedule(q) for q in queues]
    assert m._seeders[1]._iso  # PREMA-H kept estimates between the queues of one run
    m.reset(9)
    assert not any(h._iso for h in m._seeders if isinstance(h, PremaH))
    second = [m.schedule(q) for q in queues]
    for (p1, s1), (p2, s2) in zip(first, second):
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_array_equal(s1, s2)


def test_invalid_parameters():
    with pytest.raises(ValueError):
        Magma(population=1)
    with pytest.raises(ValueError):
        Magma(init="heft")
    with pytest.raises(ValueError):
        Magma(mutation_rate=1.5)


def test_bench_one_period_at_100x100_on_100_sjs(benchmark):
    """pytest-benchmark: one MAGMA period at the paper's 100 x 100 on 100 SJs (``relmas bench magma`` reports
    the same; target <= 1 s)."""
    rq = synthetic_queue(100, 6, seed=0)
    m = Magma(seed=0)
    m.schedule(synthetic_queue(20, 6, seed=1))  # compile outside the measurement
    benchmark.pedantic(m.schedule, args=(rq,), rounds=2, iterations=1)
    assert m.last.evaluations == 100 * 101
