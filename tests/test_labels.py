"""Expert labels: parallel computation, on-disk cache by key, reuse across reruns (relmas.labels)."""
from __future__ import annotations

import copy
import csv

import numpy as np
import pytest

from relmas import labels as L
from relmas.ddpg import TrainConfig, derived_seeds, expert_targets, train
from relmas.policy import EncoderSpec, encode
from relmas.reward import RewardConfig
from relmas.scheduler import get_scheduler
from relmas.sim.simulator import Simulator
from test_ddpg import TINY, scenario

MAGMA = ("magma-seeded", {"generations": 2, "population": 4})
SEEDS = [11, 12, 13]


def _episodes(cache=None, workers=1, expert=("edf-h", {}), seeds=SEEDS, scen=None):
    scen = scen or scenario(jobs=8)
    spec = EncoderSpec.from_costs(scen.costs)
    return L.expert_episodes(scen, spec, expert[0], expert[1], seeds, episode_jobs=None, decision_cost=None,
                             reward=RewardConfig(), workers=workers, cache_dir=cache)


def _same(a, b):
    assert len(a.episodes) == len(b.episodes) and a.sla == b.sla
    for ea, eb in zip(a.episodes, b.episodes):
        assert len(ea) == len(eb) and len(ea) > 0
        for ta, tb in zip(ea, eb):
            for f in ("x", "a", "x2", "prio", "sa", "starts"):
                assert np.array_equal(getattr(ta, f), getattr(tb, f)), f
            assert ta.r == tb.r and ta.done == tb.done


def test_second_call_loads_everything_from_the_cache(tmp_path):
    first = _episodes(tmp_path)
    assert (first.computed, first.loaded) == (3, 0)
    files = sorted(p.name for p in (tmp_path / first.key).iterdir())
    assert files == [f"{s}.npz" for s in SEEDS]  # no temporary file left behind
    again = _episodes(tmp_path)
    assert (again.computed, again.loaded) == (0, 3) and again.key == first.key
    _same(first, again)
    assert all(ep[-1].done for ep in first.episodes)
    assert all(t.sa is not None and t.a.shape[0] == t.x.shape[0] - 1 == t.sa.shape[0]
               for ep in first.episodes for t in ep)


def test_the_worker_count_does_not_change_the_episodes():
    _same(_episodes(workers=1, expert=MAGMA, seeds=SEEDS[:2]), _episodes(workers=2, expert=MAGMA, seeds=SEEDS[:2]))


def test_the_key_covers_the_expert_and_the_scenario():
    scen = scenario(jobs=8)
    spec = EncoderSpec.from_costs(scen.costs)
    key = lambda name, args, **kw: L.episode_key(scen, spec, name, args, kw.get("jobs"), None,  # noqa: E731
                                                 kw.get("reward", RewardConfig()))
    base = key(*MAGMA)
    assert base == key(*MAGMA)
    assert base != key(MAGMA[0], {"generations": 3, "population": 4})
    assert base != key("edf-h", {})
    assert base != key(*MAGMA, jobs=5)
    assert base != key(*MAGMA, reward=RewardConfig(delta=0.5))


def test_the_key_covers_what_an_expert_fixes_beyond_its_arguments(monkeypatch):
    """magma-multiseed's seeding heuristics are not among its arguments: changing them changes the key."""
    import baselines.magma as M

    scen = scenario(jobs=8)
    spec = EncoderSpec.from_costs(scen.costs)
    args = {"generations": 2, "population": 8}
    key = lambda: L.episode_key(scen, spec, "magma-multiseed", args, None, None, RewardConfig())  # noqa: E731
    base = key()
    assert base == key()
    monkeypatch.setattr(M, "SEED_HEURISTICS", M.SEED_HEURISTICS[:4])
    assert key() != base


def test_the_key_hashes_the_costs_not_the_paths():
    scen = scenario(jobs=8)
    spec = EncoderSpec.from_costs(scen.costs)
    k1 = L.episode_key(scen, spec, "edf-h", {}, None, None, RewardConfig())
    # another DRAM bandwidth (an edited system file) or one layer's cycles (an edited table): another key
    scen.costs = scen.costs.with_bandwidth(scen.costs.bandwidth / 2)
    k2 = L.episode_key(scen, spec, "edf-h", {}, None, None, RewardConfig())
    assert k2 != k1
    scen.costs.models[0].cycles[0, 0] += 1.0
    assert L.episode_key(scen, spec, "edf-h", {}, None, None, RewardConfig()) not in (k1, k2)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_damaged_cache_file_is_recomputed(tmp_path, damage):
    first = _episodes(tmp_path)
    f = tmp_path / first.key / f"{SEEDS[1]}.npz"
    data = f.read_bytes()
    f.write_bytes({"truncate": data[:len(data) // 2], "garbage": b"not a zip" * 10, "empty": b""}[damage])
    again = _episodes(tmp_path)
    assert (again.computed, again.loaded) == (1, 2)
    _same(first, again)
    assert f.read_bytes() == data  # overwritten with the good episode
    assert _episodes(tmp_path).computed == 0


def test_label_queues_match_the_expert_reset_with_the_per_queue_seed():
    scen = scenario(jobs=8)
    spec = EncoderSpec.from_costs(scen.costs)
    sim, driver = Simulator(scen.costs, scen.period), get_scheduler("fcfs-h")
    sim.reset(scen.make_workload(7, None))
    queues = []
    while (rq := sim.observe()) is not None:
        queues.append(copy.deepcopy(rq))
        sim.step(*driver.schedule(rq), simulate_out=False)
    assert len(queues) >= 3
    got1 = L.label_queues(queues, spec, *MAGMA, episode_seed=99, workers=1)
    got2 = L.label_queues(queues, spec, *MAGMA, episode_seed=99, workers=2)
    expert = get_scheduler(MAGMA[0], **MAGMA[1])
    for i, q in enumerate(queues):
        expert.reset(L.label_seed(99, i))
        p, s = expert.schedule(q)
        want = expert_targets(p, s, encode(q, spec)[1])
        for got in (got1, got2):
            assert np.array_equal(got[i][0], want[0]) and np.array_equal(got[i][1], want[1])
            assert got[i][2].dtype == bool and got[i][2].shape == want[1].shape
    assert L.label_seed(99, 0) != L.label_seed(99, 1) and L.label_seed(99, 0) != L.label_seed(98, 0)


def _rows(d):
    with open(d / "metrics.csv", newline="") as fh:
        return [{k: v for k, v in r.items() if k not in ("wall_s", "cpu_s")} for r in csv.DictReader(fh)]


def test_training_reuses_the_cached_expert_episodes(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cfg = TrainConfig(**{**TINY, "expert_episodes": 2, "imitation_updates": 80, "label_workers": 2})
    a = train(cfg, scenario(), tmp_path / "a", seed=4, progress=False, label_cache=cache)
    assert a.finished and a.updates == cfg.total_updates
    (key_dir,) = cache.iterdir()
    assert sorted(p.name for p in key_dir.iterdir()) == sorted(f"{s}.npz" for s in derived_seeds(4, 0, 2))
    phases = [r["phase"] for r in a.history]
    assert phases.count("imitation") >= 3  # the two expert episodes, then DAgger rounds

    def no_expert_run(seed):  # the second run must not simulate an expert episode
        raise AssertionError("expert episode recomputed")

    monkeypatch.setattr(L, "_run_episode", no_expert_run)
    cfg1 = TrainConfig(**{**TINY, "expert_episodes": 2, "imitation_updates": 80, "label_workers": 1})
    b = train(cfg1, scenario(), tmp_path / "b", seed=4, progress=False, label_cache=cache)
    assert b.finished
    assert _rows(tmp_path / "a") == _rows(tmp_path / "b")
    # interrupted, then resumed: the expert episodes come from the cache again, the run is the same
    c1 = train(cfg1, scenario(), tmp_path / "c", seed=4, progress=False, label_cache=cache, stop_after_updates=50)
    assert not c1.finished
    c = train(cfg, scenario(), tmp_path / "c", seed=4, progress=False, label_cache=cache)  # label_workers may change
    assert c.finished and _rows(tmp_path / "a") == _rows(tmp_path / "c")


def test_bc_term_uses_labelled_transitions_in_rl(tmp_path):
    cfg = TrainConfig(**{**TINY, "imitation_updates": 4, "critic_warmup_updates": 0, "rl_updates": 10,
                         "expert_episodes": 1})
    r = train(cfg, scenario(), tmp_path, seed=1, progress=False)
    rl = [row for row in r.history if row["phase"] == "rl"]
    assert rl and any(row["bc_loss"] != "" for row in rl)


def test_label_starts_are_the_sjs_the_simulator_starts_under_the_expert_decision():
    # drive with the (deterministic) expert itself: the label's starts must be what the period ran
    scen = scenario(jobs=10)
    spec = EncoderSpec.from_costs(scen.costs)
    sim, expert = Simulator(scen.costs, scen.period), get_scheduler("fcfs-h")
    sim.reset(scen.make_workload(5, None))
    queues, started = [], []
    while (rq := sim.observe()) is not None:
        queues.append(copy.deepcopy(rq))
        info = sim.step(*expert.schedule(rq), simulate_out=False)
        started.append(~np.isnan(info.start[encode(rq, spec)[1]]))
    labels = L.label_queues(queues, spec, "fcfs-h", {}, episode_seed=1, workers=1)
    assert sum(int(s.sum()) for s in started) > 0 and any((~s).any() for s in started)
    for (_, _, starts, ok), want in zip(labels, started):
        assert np.array_equal(starts, want) and ok is None
    # expert-driven episodes carry the same flags
    ep = L.expert_episodes(scen, spec, "fcfs-h", {}, [5], episode_jobs=None, decision_cost=None,
                           reward=RewardConfig(), workers=1)
    assert [list(t.starts) for t in ep.episodes[0]] == [list(s) for s in started]


def _queues_and_decisions(jobs=10, seed=5):
    scen = scenario(jobs=jobs)
    sim, expert = Simulator(scen.costs, scen.period), get_scheduler("fcfs-h")
    sim.reset(scen.make_workload(seed, None))
    out = []
    while (rq := sim.observe()) is not None:
        p, s = expert.schedule(rq)
        q = copy.deepcopy(rq)
        info = sim.step(p, s, simulate_out=False)
        out.append((q, p, s, ~np.isnan(info.start)))
    return scen, out


def test_accepted_sas_are_the_moves_that_lose_no_queue_job():
    from baselines.magma import magma_fitness

    _, steps = _queues_and_decisions()
    moved = rejected = 0
    for rq, p, s, started in steps:
        ok = L.accepted_sas(rq, p, s, started, tolerance=0.02)
        assert ok.dtype == np.int64 and ok.shape == (rq.size,)
        assert ((ok >> s) & 1).all()  # the expert's SA is always accepted
        assert (ok[~started] == (1 << s[~started])).all()  # an SJ not started keeps only it
        f0, h0 = (v[0] for v in magma_fitness(rq, np.asarray(p, float)[None], s[None]))
        for i in np.flatnonzero(started):
            for m in range(rq.num_sas):
                if m == s[i]:
                    continue
                s2 = s.copy()
                s2[i] = m
                f, h = (v[0] for v in magma_fitness(rq, np.asarray(p, float)[None], s2[None]))
                assert bool((ok[i] >> m) & 1) == (h >= h0 and f >= f0 - 0.02), (i, m)
                moved += 1
                rejected += not (ok[i] >> m) & 1
    assert moved > 0 and 0 < rejected < moved  # the test must see both kinds


def test_accepted_sas_travel_with_labels_and_the_cache_key(tmp_path):
    scen, steps = _queues_and_decisions(jobs=8)
    spec = EncoderSpec.from_costs(scen.costs)
    queues = [q for q, *_ in steps]
    plain = L.label_queues(queues, spec, *MAGMA, episode_seed=3, workers=1)
    with_ok = L.label_queues(queues, spec, *MAGMA, episode_seed=3, workers=2, sa_tolerance=0.0)
    for (p, s, b, o), (p2, s2, b2, o2) in zip(plain, with_ok):
        assert o is None and np.array_equal(p, p2) and np.array_equal(s, s2) and np.array_equal(b, b2)
        assert o2.shape == s.shape and ((o2 >> s) & 1).all() and (o2[~b] == (1 << s[~b])).all()
    key = lambda tol: L.episode_key(scen, spec, "edf-h", {}, None, None, RewardConfig(), tol)  # noqa: E731
    assert key(None) == L.episode_key(scen, spec, "edf-h", {}, None, None, RewardConfig())
    assert len({key(None), key(0.0), key(0.02)}) == 3
    a = L.expert_episodes(scen, spec, "edf-h", {}, [5], episode_jobs=None, decision_cost=None,
                          reward=RewardConfig(), workers=1, cache_dir=tmp_path, sa_tolerance=0.02)
    b = L.expert_episodes(scen, spec, "edf-h", {}, [5], episode_jobs=None, decision_cost=None,
                          reward=RewardConfig(), workers=1, cache_dir=tmp_path, sa_tolerance=0.02)
    assert (a.computed, b.loaded) == (1, 1)
    for ta, tb in zip(a.episodes[0], b.episodes[0]):
        assert np.array_equal(ta.sa_ok, tb.sa_ok) and ((ta.sa_ok >> ta.sa) & 1).all()
    assert any((t.sa_ok != (1 << t.sa)).any() for t in a.episodes[0])  # some started SJ has a choice
    c = L.expert_episodes(scen, spec, "edf-h", {}, [5], episode_jobs=None, decision_cost=None,
                          reward=RewardConfig(), workers=1, cache_dir=tmp_path)
    assert c.computed == 1 and all(t.sa_ok is None for t in c.episodes[0])


def test_labels_searched_from_the_learners_decision_are_at_least_as_good_as_it():
    from baselines.magma import magma_fitness

    scen, steps = _queues_and_decisions(jobs=8)
    spec = EncoderSpec.from_costs(scen.costs)
    queues = [q for q, *_ in steps]
    # a learner better than the expert alone (EDF-H + random individuals, no generations) on some queues
    strong = get_scheduler("magma-multiseed", generations=10, population=12)
    learner = [strong.schedule(q) for q in queues]
    # the learner's decision in the population: never worse than it by MAGMA's fitness
    labels = L.label_queues(queues, spec, "magma-seeded", {"generations": 0, "population": 4}, episode_seed=2,
                            workers=2, learner_decisions=learner)
    assert L.label_queues(queues, spec, "magma-seeded", {"generations": 0, "population": 4}, episode_seed=2,
                          workers=1, learner_decisions=learner)[0][1].tolist() == labels[0][1].tolist()
    for q, (p, s), (pt, st, *_) in zip(queues, learner, labels):
        order = encode(q, spec)[1]
        sa = np.empty_like(st)
        sa[order] = st
        prio = np.empty(q.size)
        prio[order] = pt
        f_label = magma_fitness(q, prio[None], sa[None])[0][0]
        f_learner = magma_fitness(q, np.asarray(p, float)[None], s[None])[0][0]
        assert f_label >= f_learner - 1e-9
    own = [L.label_queues([q], spec, "magma-seeded", {"generations": 0, "population": 4}, episode_seed=2)[0]
           for q in queues]  # without the learner's decision
    assert any(not np.array_equal(o[1], lab[1]) for o, lab in zip(own, labels))  # the learner's decision counted
    with pytest.raises(ValueError, match="one decision per queue"):
        L.label_queues(queues, spec, *MAGMA, episode_seed=2, learner_decisions=learner[:-1])


def test_dagger_seed_learner_needs_a_magma_expert(tmp_path):
    from characterize.errors import InputError

    cfg = TrainConfig(**{**TINY, "dagger_seed_learner": True})  # TINY imitates edf-h
    with pytest.raises(InputError) as e:
        train(cfg, scenario(), tmp_path / "run", seed=0, progress=False)
    assert e.value.field == "dagger_seed_learner" and not (tmp_path / "run").exists()  # nothing written


def test_dagger_seed_learner_needs_room_in_the_population_and_dagger_rounds(tmp_path):
    from characterize.errors import InputError

    full = TrainConfig(**{**TINY, "dagger_seed_learner": True, "imitate": "magma-multiseed",
                          "imitate_args": {"generations": 1, "population": 6}})  # six seeders fill it
    with pytest.raises(InputError, match="no room for the learner") as e:
        train(full, scenario(), tmp_path / "run", seed=0, progress=False)
    assert e.value.field == "imitate_args.population" and not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="needs dagger: true"):
        TrainConfig(**{**TINY, "dagger_seed_learner": True, "dagger": False, "imitate": "magma-seeded"})


def test_accepted_sas_use_the_experts_slack_weight():
    from baselines.magma import magma_fitness

    _, steps = _queues_and_decisions()
    differ = 0
    for rq, p, s, started in steps:
        for w in (0.0, 2.0):
            ok = L.accepted_sas(rq, p, s, started, tolerance=0.05, slack_weight=w)
            f0 = magma_fitness(rq, np.asarray(p, float)[None], s[None], w)[0][0]
            for i in np.flatnonzero(started):
                for m in set(range(rq.num_sas)) - {int(s[i])}:
                    s2 = s.copy()
                    s2[i] = m
                    f, h = (v[0] for v in magma_fitness(rq, np.asarray(p, float)[None], s2[None], w))
                    h0 = magma_fitness(rq, np.asarray(p, float)[None], s[None], w)[1][0]
                    assert bool((ok[i] >> m) & 1) == (h >= h0 and f >= f0 - 0.05)
        differ += not np.array_equal(L.accepted_sas(rq, p, s, started, 0.05, 0.0),
                                     L.accepted_sas(rq, p, s, started, 0.05, 2.0))
    assert differ > 0  # the weight matters on these queues, so the check above can tell them apart
    assert L._slack_weight(get_scheduler("magma-seeded", slack_weight=1.5)) == 1.5
    assert L._slack_weight(get_scheduler("edf-h")) == 0.4


def test_labelled_queues_judge_accepted_sas_with_the_experts_slack_weight():
    from relmas.scheduler import run_queue

    scen, steps = _queues_and_decisions()
    spec = EncoderSpec.from_costs(scen.costs)
    queues = [rq for rq, *_ in steps]
    args = {**MAGMA[1], "slack_weight": 2.0}
    got = L.label_queues(queues, spec, MAGMA[0], args, episode_seed=4, workers=1, sa_tolerance=0.05)
    expert = get_scheduler(MAGMA[0], **args)
    differ = 0
    for i, q in enumerate(queues):
        expert.reset(L.label_seed(4, i))
        p, s = expert.schedule(q)
        started = ~np.isnan(run_queue(q, p, s, horizon=float(q.now) + float(q.period),
                                      stop_at_horizon=True).start[:q.size])
        order = encode(q, spec)[1]
        np.testing.assert_array_equal(got[i][3], L.accepted_sas(q, p, s, started, 0.05, 2.0)[order])
        differ += not np.array_equal(got[i][3], L.accepted_sas(q, p, s, started, 0.05, 0.4)[order])
    assert differ > 0  # MAGMA's default weight would have labelled these queues otherwise
