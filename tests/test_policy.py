"""RELMAS policy: encoding, decoding, networks, MAC count, scheduler and overhead, reward."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from characterize.errors import InputError
from characterize.policy_layers import RESIDENT_STEPS, policy_model
from relmas.cli.bench_policy import synthetic_costs, synthetic_queue, synthetic_workload
from relmas.policy import (PAPER_MACS_H256, Actor, Critic, EncoderSpec, RelmasScheduler, decode,
                           encode, encode_arrays, macs_per_step, pad_batch, policy_decision_cost, save_policy, slog)
from relmas.reward import RewardConfig, reward, sj_rewards
from relmas.scheduler import ReadyQueue, get_scheduler
from relmas.sim.simulator import Simulator

T = 100_000.0


@pytest.fixture(scope="module")
def costs():
    return synthetic_costs(num_sas=6, num_models=3, seed=3)


@pytest.fixture(scope="module")
def spec(costs):
    return EncoderSpec.from_costs(costs)


def small_rq(M: int = 2) -> ReadyQueue:
    # three SJs: job 0 (two layers, deadline late), job 1 (one layer, deadline early)
    return ReadyQueue.create(
        now=5 * T, period=T, bandwidth=16.0, job=[0, 0, 1], layer=[0, 1, 0],
        arrival=[4 * T, 4 * T, 4.5 * T], deadline=[9 * T, 9 * T, 6 * T],
        cycles=[[1e4, 2e4], [3e4, 1e4], [5e4, 5e4]], bw=[[8.0, 4.0], [16.0, 32.0], [1.0, 2.0]],
        preds=[[], [0], []], model=[1, 1, 0], run_work=[2e4, 0.0])


def test_encoding_layout_and_normalisation():
    spec = EncoderSpec(num_sas=2, model_names=("a", "b"), model_layers=(1, 2))
    rq = small_rq()
    x, order = encode(rq, spec)
    assert x.shape == (4, spec.num_features) == (4, 8) and x.dtype == np.float32
    assert spec.num_outputs == 3
    # sorted by absolute deadline: the job-1 SJ first, then job 0's layers in RQ order
    assert order.tolist() == [2, 0, 1]
    # primer: zeros but the latency slots = cycles until free
    np.testing.assert_allclose(x[0], [0, 0, 0, 0, np.log1p(0.2), 0, 0, 0], rtol=1e-6)
    # first SJ: model 0 of 2 -> 0.5; layer 0 of 1 -> 1.0; deadline 1 period away; waited 0.5 period
    np.testing.assert_allclose(x[1], [0.5, 1.0, np.log1p(1.0), np.log1p(0.5), np.log1p(0.5), np.log1p(0.5),
                                      np.log1p(1 / 16), np.log1p(2 / 16)], rtol=1e-6)
    # second layer of job 0: layer 1 of 2 -> 1.0, bandwidth 32 B/cycle = 2 x B
    np.testing.assert_allclose(x[3, :2], [1.0, 1.0])
    np.testing.assert_allclose(x[3, 6:], [np.log1p(1.0), np.log1p(2.0)], rtol=1e-6)
    # a subset (the residual RQ) encodes only those SJs, order indexes the full RQ
    x2, order2 = encode(rq, spec, subset=np.array([False, True, True]))
    assert x2.shape == (3, 8) and order2.tolist() == [2, 1]
    # empty queue: the primer alone
    xe, oe = encode_arrays(spec, np.zeros(0, int), np.zeros(0, int), np.zeros(0), np.zeros(0), np.zeros((0, 2)),
                           np.zeros((0, 2)), 0.0, np.array([T, 0.0]), 16.0, T)
    assert xe.shape == (1, 8) and oe.size == 0 and xe[0, 4] == pytest.approx(np.log1p(1.0))


def test_slog_is_odd_and_monotone():
    v = np.linspace(-50, 50, 101)
    s = slog(v)
    assert np.all(np.diff(s) > 0)
    np.testing.assert_allclose(s, -slog(-v))


def test_decode_argmax_and_priority_ties_keep_encoding_order():
    order = np.array([2, 0, 1])
    out = np.array([[1.0, 0.1, 0.9], [1.0, 0.5, -0.2], [-0.3, 0.0, 0.0]], dtype=np.float32)
    prio, sa = decode(out, order)
    # SA per RQ index: RQ 2 <- row 0 (argmax 1), RQ 0 <- row 1 (0), RQ 1 <- row 2 (tie -> first, 0)
    assert sa.tolist() == [0, 0, 1]
    # rows 0 and 1 tie at 1.0: row 0 (earlier deadline) must come first
    assert prio[2] > prio[0] > prio[1]
    assert prio.dtype == np.float64 and sa.dtype == np.int64


def test_actor_and_critic_packed_batches_match_single_sequences(spec):
    torch.manual_seed(0)
    F_, G = spec.num_features, spec.num_outputs
    actor, critic = Actor(F_, G, 16), Critic(F_, G, 16)
    seqs = [np.random.default_rng(i).standard_normal((n, F_)).astype(np.float32) for i, n in enumerate((5, 1, 9))]
    acts = [np.random.default_rng(10 + i).uniform(-1, 1, (s.shape[0], G)).astype(np.float32) for i, s in enumerate(seqs)]
    x, lengths = pad_batch(seqs, F_)
    a, _ = pad_batch(acts, G)
    with torch.no_grad():
        out = actor(x, lengths)
        q = critic(x, a, lengths)
        for i, s in enumerate(seqs):
            single = actor(torch.from_numpy(s)[None])[0]
            torch.testing.assert_close(out[i, :s.shape[0]], single, atol=1e-6, rtol=1e-5)
            assert torch.all(out[i, s.shape[0]:] == 0)
            qi = critic(torch.from_numpy(s)[None], torch.from_numpy(acts[i])[None], torch.tensor([s.shape[0]]))
            torch.testing.assert_close(q[i], qi[0], atol=1e-6, rtol=1e-5)
    assert out.shape == (3, 9, G) and q.shape == (3,)
    assert out.abs().max() <= 1.0
    # the critic ignores the primer's action slot
    a2 = a.clone()
    a2[:, 0] = 5.0
    with torch.no_grad():
        torch.testing.assert_close(critic(x, a2, lengths), q)
    assert critic.lstm.input_size == F_ + G and actor.fc1.out_features == 8


def test_macs_per_step_against_formula_and_characterised_layers():
    F_, G = 16, 7
    m = macs_per_step(Actor(F_, G, 256))
    h = 256
    assert m["total"] == 4 * h * (F_ + h) + h * h // 2 + (h // 2) * G == 312_192
    assert PAPER_MACS_H256 - m["total"] == 4096 == 4 * h * 4  # the paper's count matches F = 20
    assert macs_per_step(Actor(20, G, 256))["total"] == PAPER_MACS_H256
    # same count as the layers the characterisation pipeline costs
    model = policy_model(256, 6)
    assert sum(layer.C * layer.K for layer in model.layers) == m["total"]
    assert m["elementwise_products"] == 3 * h


def write_policy_table(path, hidden: int, M: int, cycles=(500.0, 60.0, 5.0), energy=(1e4, 1e3, 10.0),
                       step=(100.0, 1000.0)):
    """One-step rows (totals 565 cycles, 11,010 pJ) and RESIDENT_STEPS-step rows costing ``step`` more per step."""
    T = RESIDENT_STEPS
    rows = [{"model": f"relmas_policy_h{hidden}_m{M}", "layer": n, "sa_class": "simba_small", "cycles": c,
             "energy_pj": e} for n, c, e in zip(("lstm_gates", "fc1", "fc2"), cycles, energy)]
    # the batched model: the first layer carries all the extra per-step cost
    extra = {"lstm_gates": ((T - 1) * step[0], (T - 1) * step[1])}
    rows += [{"model": f"relmas_policy_h{hidden}_m{M}_x{T}", "layer": n, "sa_class": "simba_small",
              "cycles": c + extra.get(n, (0, 0))[0], "energy_pj": e + extra.get(n, (0, 0))[1]}
             for n, c, e in zip(("lstm_gates", "fc1", "fc2"), cycles, energy)]
    rows.append({"model": f"relmas_policy_h{hidden}_m{M}", "layer": "fc1", "sa_class": "eyeriss_small",
                 "cycles": 1e9, "energy_pj": 1e9})
    pd.DataFrame(rows).to_csv(path, index=False)


def test_policy_decision_cost_fits_fixed_and_per_step_parts_and_errors(tmp_path):
    table = tmp_path / "policy.csv"
    write_policy_table(table, 32, 6)
    c = policy_decision_cost(table, 32, 6)
    assert (c.step_cycles, c.step_energy_pj) == (100.0, 1000.0)
    assert (c.fixed_cycles, c.fixed_energy_pj) == (465.0, 10_010.0)  # the one-step cost less one step
    assert c.of(1) == (565.0, 11_010.0) and c.of(41) == (465.0 + 4100.0, 10_010.0 + 41_000.0)
    assert c.of(0) == (0.0, 0.0) and c.model == "relmas_policy_h32_m6"
    df = pd.read_csv(table)
    assert policy_decision_cost(df, 32, 6) == c  # a DataFrame works too; errors name its source
    df.attrs["source"] = "where/it/came/from.csv"
    with pytest.raises(InputError, match="where/it/came/from.csv"):
        policy_decision_cost(df, 64, 6)
    with pytest.raises(InputError) as e:
        policy_decision_cost(table, 64, 6)
    assert str(table) in str(e.value) and "relmas_policy_h64_m6" in str(e.value)
    # a table from before the batched model names what is missing
    df = pd.read_csv(table)
    old = tmp_path / "old.csv"
    df[~df["model"].str.contains("_x")].to_csv(old, index=False)
    with pytest.raises(InputError) as e:
        policy_decision_cost(old, 32, 6)
    assert f"relmas_policy_h32_m6_x{RESIDENT_STEPS}" in str(e.value) and "--policy-hidden 32" in str(e.value)
    with pytest.raises(InputError) as e:
        policy_decision_cost(tmp_path / "missing.csv", 32, 6)
    assert "missing.csv" in str(e.value)


def test_scheduler_is_deterministic_and_charges_overhead(tmp_path, costs, spec):
    torch.manual_seed(2)
    actor = Actor(spec.num_features, spec.num_outputs, 32)
    pol = tmp_path / "p.pt"
    save_policy(pol, actor, spec, {"note": "test"})
    table = tmp_path / "policy.csv"
    write_policy_table(table, 32, costs.num_sas)
    sched = get_scheduler("relmas", policy=pol, costs=costs, policy_table=table)
    assert isinstance(sched, RelmasScheduler) and sched.meta == {"note": "test"}
    assert costs.sa_classes[sched.overhead_sa] == "simba_small"
    rq = synthetic_queue(costs, 40)
    p1, s1 = sched.schedule(rq)
    p2, s2 = sched.schedule(rq)
    assert np.array_equal(p1, p2) and np.array_equal(s1, s2)
    assert sorted(p1.tolist()) == list(range(40)) and s1.min() >= 0 and s1.max() < costs.num_sas
    assert sched.decision_overhead(rq) == (sched.overhead_sa, 465.0 + 41 * 100.0, 10_010.0 + 41 * 1000.0)
    # without the charge: same decisions, no overhead
    free = RelmasScheduler(pol, costs=costs, charge_overhead=False)
    pf, sf = free.schedule(rq)
    assert np.array_equal(sf, s1) and np.array_equal(pf, p1)
    assert free.decision_overhead(rq) is None
    # whole episodes: the overhead energy is charged and the overhead SA is busier
    wl = synthetic_workload(costs, 15, seed=4)
    sim = Simulator(costs, T)
    on = sim.run(wl, sched)
    off = sim.run(wl, free)
    assert on.energy_overhead_pj > 0 and off.energy_overhead_pj == 0
    assert on.busy_cycles[sched.overhead_sa] > off.busy_cycles[sched.overhead_sa]
    assert on.jobs == off.jobs == 15


def test_scheduler_rejects_a_policy_for_another_system(tmp_path, costs, spec):
    pol = tmp_path / "p.pt"
    save_policy(pol, Actor(spec.num_features, spec.num_outputs, 16), spec)
    other = synthetic_costs(num_sas=4, seed=3)
    with pytest.raises(InputError) as e:
        RelmasScheduler(pol, costs=other, charge_overhead=False)
    assert str(pol) in str(e.value) and "4" in str(e.value)


def test_model_ids_follow_model_names_across_tables(tmp_path, costs, spec):
    """A policy meets a table with its models in another order plus one it never saw."""
    from relmas.costs import SystemCosts

    torch.manual_seed(5)
    pol = tmp_path / "p.pt"
    save_policy(pol, Actor(spec.num_features, spec.num_outputs, 16), spec)
    extra = synthetic_costs(num_sas=6, num_models=4, seed=9).models[3]
    extra.name = "unseen"
    shuffled = SystemCosts(costs.system, costs.sa_names, costs.sa_classes, costs.bandwidth, 0.0,
                           [costs.models[2], extra, costs.models[0], costs.models[1]])
    rq = synthetic_queue(costs, 30)
    remap = np.array([2, 3, 0])  # index in `shuffled` of each model of `costs`
    rq2 = synthetic_queue(costs, 30)
    rq2.model = remap[rq2.model]
    a = RelmasScheduler(pol, costs=costs, charge_overhead=False).schedule(rq)
    b = RelmasScheduler(pol, costs=shuffled, charge_overhead=False).schedule(rq2)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    rq2.model[0] = 1  # the unseen model reaches the policy
    with pytest.raises(InputError) as e:
        RelmasScheduler(pol, costs=shuffled, charge_overhead=False).schedule(rq2)
    assert "unseen" in str(e.value) and str(pol) in str(e.value)


def test_reward_matches_the_paper_formula_by_hand():
    cfg = RewardConfig()
    assert (cfg.alpha, cfg.beta, cfg.slack_weight, cfg.delta) == (0.10, 0.11, 0.05, 0.01)
    now, Ts = 1000.0, 100.0
    arrival = np.array([900.0, 900.0, 950.0, 950.0])
    deadline = np.array([1300.0, 1300.0, 1050.0, 1050.0])  # q = 400, 400, 100, 100
    finish = np.array([1050.0, 1200.0, 1080.0, np.nan])
    terms = sj_rewards(finish, arrival, deadline, now, Ts, cfg)
    expect = [
        1.0 * (0.10 + 0.05 * (1300 - 1050) / 400),   # hit within the period
        0.01 * (0.10 + 0.05 * (1300 - 1200) / 400),  # hit after the period
        1.0 * (-0.11 + 0.05 * (1050 - 1080) / 100),  # late, within the period
        1.0 * (-0.11 + 0.05 * -1.0),                 # dropped, deadline inside the period
    ]
    np.testing.assert_allclose(terms, expect)
    assert reward(finish, arrival, deadline, now, Ts, cfg) == pytest.approx(sum(expect))
    assert reward(np.zeros(0), np.zeros(0), np.zeros(0), now, Ts) == 0.0
    # Delta: strictly before t + T_s
    assert sj_rewards(np.array([1100.0]), np.array([900.0]), np.array([1300.0]), now, Ts)[0] == pytest.approx(
        0.01 * (0.10 + 0.05 * 0.5))
    with pytest.raises(ValueError):
        sj_rewards(np.array([1.0]), np.array([5.0]), np.array([5.0]), 0.0, 1.0)



def test_step_counter_counts_what_the_scheduler_charges(tmp_path, costs, spec):
    """The energy-overhead job prices exactly the decisions RelmasScheduler charges: non-empty queues, R + 1 steps."""
    from relmas.overhead import StepCounter

    torch.manual_seed(0)
    table = tmp_path / "policy.csv"
    write_policy_table(table, 32, costs.num_sas)
    sched = RelmasScheduler(Actor(spec.num_features, spec.num_outputs, 32), spec=spec, costs=costs,
                            policy_table=table)
    counter = StepCounter(sched)
    M = costs.num_sas
    empty = ReadyQueue.create(0.0, T, 64.0, *(np.zeros(0, np.int64),) * 2, *(np.zeros(0),) * 2,
                              np.zeros((0, M)), np.zeros((0, M)), [])
    counter.schedule(empty)  # an empty queue needs no policy run: nothing charged, nothing counted
    assert sched.decision_overhead(empty) is None and (counter.decisions, counter.steps) == (0, 0)
    res = Simulator(costs, T).run(synthetic_workload(costs, 12, seed=3), counter)
    c = sched.decision_cost
    assert 0 < counter.decisions
    assert res.energy_overhead_pj == pytest.approx(counter.decisions * c.fixed_energy_pj
                                                   + counter.steps * c.step_energy_pj)
