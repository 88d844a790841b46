"""The gymnasium environment: checker, RELMAS encoding, action decoding, reward, reproducibility."""
from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from relmas.costs import ModelCost, SystemCosts
from relmas.env import RelmasEnv
from relmas.workload import Workload

M = 3
PERIOD = 200.0


def costs() -> SystemCosts:
    rng = np.random.default_rng(0)
    models = []
    for k, L in enumerate((3, 5)):
        cyc = rng.uniform(20, 300, (L, M)).round()
        models.append(ModelCost(f"m{k}", [f"l{i}" for i in range(L)], cyc, rng.uniform(1, 12, (L, M)),
                                cyc.copy(), cyc.copy(), [[] if i == 0 else [i - 1] for i in range(L)]))
    return SystemCosts("t", [f"sa{i}" for i in range(M)], ["c"] * M, 16.0, 0.0, models)


def gen(rng: np.random.Generator) -> Workload:
    J = 25
    arr = np.sort(rng.uniform(0, 6000, J))
    return Workload(["m0", "m1"], rng.integers(0, 2, J), arr, arr + rng.uniform(400, 2500, J))


def test_check_env():
    check_env(RelmasEnv(costs(), gen, PERIOD, max_len=32), skip_render_check=True)


def test_encoding_and_decoding():
    c = costs()
    w = Workload(["m0", "m1"], np.array([1, 0]), np.array([0.0, 0.0]), np.array([900.0, 500.0]))
    env = RelmasEnv(c, w, PERIOD, max_len=16)
    obs, info = env.reset(seed=0)
    F = 4 + 2 * M
    assert obs["sj"].shape == (17, F) and obs["mask"].tolist() == [1.0] * 9 + [0.0] * 8
    assert info["rq_len"] == 8
    # primer: zero but the free-time slots (all SAs idle); rows sorted by deadline: job 1 (m0, 3 layers) first
    assert not obs["sj"][0].any()
    rows = obs["sj"][1:9]
    assert rows[:3, 0].tolist() == pytest.approx([0.5] * 3)  # model m0 -> (0 + 1) / 2
    assert rows[3:, 0].tolist() == pytest.approx([1.0] * 5)
    assert rows[:3, 1].tolist() == pytest.approx([1 / 3, 2 / 3, 1.0])  # layer / its model's layers
    assert rows[3:, 1].tolist() == pytest.approx([1 / 5, 2 / 5, 3 / 5, 4 / 5, 1.0])
    assert rows[0, 2] == pytest.approx(np.log1p(500.0 / PERIOD)) and rows[3, 2] == pytest.approx(np.log1p(900.0 / PERIOD))
    assert rows[0, 4:4 + M] == pytest.approx(np.log1p(c.models[0].cycles[0] / PERIOD))
    assert rows[0, 4 + M:] == pytest.approx(np.log1p(c.models[0].bw[0] / 16.0))
    # the policy's own encoding, row for row: a policy trained on this env runs as the relmas scheduler
    from relmas.policy import EncoderSpec, encode

    assert np.array_equal(obs["sj"][:9], encode(env._rq, EncoderSpec.from_costs(c))[0])
    # action row k -> k-th SJ by deadline: give job 1's first layer SA 2 and the top priority
    a = np.zeros((16, 1 + M), np.float32)
    a[:, 0] = -0.5
    a[:, 1] = 1.0
    a[0, 0], a[0, 1:] = 1.0, [0.0, 0.0, 1.0]
    pr, sa = env.decode(env._rq, a)
    rq = env._rq
    first = np.nonzero((rq.job == 1) & (rq.layer == 0))[0][0]
    assert pr[first] == 1.0 and sa[first] == 2 and (np.delete(sa, first) == 0).all()
    obs, r, term, trunc, info = env.step(a)
    st = info["step"]
    assert st.sa[first] == 2 and st.start[first] == 0.0
    assert r == len(st.hits) - len(st.misses)
    # the primer of the next observation shows how long each SA stays busy
    if not term:
        assert obs["sj"][0, 4:4 + M] == pytest.approx(np.log1p(env._rq.sa_free / PERIOD))
    with pytest.raises(ValueError):
        env.decode(env._rq or rq, np.zeros((3, 3)))


def test_overflow_and_episode_end():
    env = RelmasEnv(costs(), gen, PERIOD, max_len=4, residual_obs=True, simulate_out=True,
                    reward_fn=lambda st: float(np.nansum(st.finish_out) > 0))
    obs, _ = env.reset(seed=3)
    total_hits = total_misses = 0
    steps = 0
    while True:
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        steps += 1
        total_hits += info["hits"]
        total_misses += info["misses"]
        assert obs["mask"].sum() <= 5 and not trunc
        assert "residual_obs" in info and info["residual_obs"]["sj"].shape == obs["sj"].shape
        if info["rq_len"] > 4:
            st = info["step"]
            hidden = np.argsort(st.rq.deadline, kind="stable")[4:]
            assert (st.priority[hidden] == -2.0).all()
        if term:
            break
    ep = info["episode"]
    assert ep["hits"] == total_hits and ep["misses"] == total_misses and ep["jobs"] == 25
    assert steps == ep["decisions"]
    # after the end: terminated again with no reward
    _, r, term, _, _ = env.step(env.action_space.sample())
    assert term and r == 0.0


def test_reproducible_and_overhead():
    def run(seed):
        env = RelmasEnv(costs(), gen, PERIOD, max_len=32, decision_overhead=lambda rq: (0, 10.0 * rq.size, 1.0))
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        first = obs["sj"][0].copy()
        rewards = []
        while True:
            obs, r, term, _, info = env.step(env.action_space.sample())
            rewards.append(r)
            if term:
                return first, rewards, info["episode"]

    f1, r1, e1 = run(5)
    f2, r2, e2 = run(5)
    assert r1 == r2 and e1["sla_rate"] == e2["sla_rate"] and e1["energy_pj"] == e2["energy_pj"]
    assert f1[4] > 0  # the primer shows the decision overhead queued on SA 0
    assert e1["energy_overhead_pj"] == e1["decisions"] * 1.0
    _, r3, _ = run(6)
    assert r3 != r1
