"""DDPG training: config, replay buffer, losses and updates, determinism, resume after a kill."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from characterize.errors import InputError
from relmas.checkpoint import load_checkpoint
from relmas.cli.bench_policy import synthetic_costs, synthetic_workload
from relmas.cli.train import train_config
from relmas.ddpg import (CSV_FIELDS, SEED_FLOOR, Batch, Learner, ReplayBuffer, Scenario, TrainConfig, Transition,
                         bc_loss, derived_seeds, expert_action, expert_targets, soft_update, train)
from relmas.policy import EncoderSpec, encode, load_policy
from relmas.scheduler import get_scheduler
from relmas.sim.simulator import Simulator

ROOT = Path(__file__).resolve().parents[1]
T = 100_000.0


def scenario(seed: int = 1, jobs: int = 12) -> Scenario:
    costs = synthetic_costs(num_sas=4, num_models=3, layers=(4, 8), seed=seed)
    return Scenario(costs=costs, period=T, make_workload=lambda s, j: synthetic_workload(costs, j or jobs, s),
                    meta={"workload": "synthetic", "jobs": jobs})


TINY = dict(recipe="bc-ddpg", hidden=16, imitate="edf-h", imitation_updates=12, critic_warmup_updates=4,
            rl_updates=12, batch_size=4, learning_starts=8, val_every=10, val_seeds=1, bc_weight=1.0,
            charge_overhead="off", checkpoint_every_s=0.0)


def test_config_validation_names_the_setting():
    with pytest.raises(InputError) as e:
        TrainConfig.from_dict({"hiden": 3})
    assert e.value.field == "hiden"
    with pytest.raises(InputError, match="imitate"):
        TrainConfig.from_dict({"recipe": "bc-ddpg"})
    with pytest.raises(InputError, match="unknown recipe"):
        TrainConfig.from_dict({"recipe": "magic"})
    with pytest.raises(InputError) as e:
        TrainConfig.from_dict({"reward": {"alfa": 1}})
    assert e.value.field == "reward.alfa"
    for switch in ("seq_cover_starts", "dagger"):
        with pytest.raises(InputError, match=f"{switch} must be true or false, got 'maybe'"):
            TrainConfig.from_dict({switch: "maybe"})
    c = TrainConfig.from_dict({"reward": {"delta": 0.02}})
    assert c.reward.delta == 0.02 and c.reward.alpha == 0.10 and c.recipe == "paper"


@pytest.mark.parametrize("bad, field, words", [
    ({"hidden": "abc"}, "hidden", "must be an integer, got 'abc'"),
    ({"hidden": 63}, "hidden", "even integer"),
    ({"batch_size": 0}, "batch_size", ">= 1"),
    ({"max_seq": 0}, "max_seq", ">= 1"),
    ({"actor_lr": 0}, "actor_lr", "> 0"),
    ({"tau": 2}, "tau", "0 < tau <= 1"),
    ({"gamma": 1.0}, "gamma", "0 <= gamma < 1"),
    ({"max_minutes": -1}, "max_minutes", "null or > 0"),
    ({"imitate": 3}, "imitate", "a string or null"),
    ({"imitate_args": [1]}, "imitate_args", "a mapping"),
    ({"bc_sa_tolerance": True}, "bc_sa_tolerance", "a number or null"),
    ({"reward": {"alpha": "x"}}, "reward.alpha", "a number"),
    ({"reward": 3}, "reward", "mapping"),
])
def test_every_bad_setting_error_names_its_field(bad, field, words):
    """A user's --set or YAML typo reaches them as 'FILE: FIELD: what is wrong', not a bare TypeError."""
    with pytest.raises(InputError) as e:
        TrainConfig.from_dict(bad, "c.yaml (train)")
    assert e.value.field == field and e.value.path == "c.yaml (train)"
    assert words in e.value.message


def test_settings_take_what_yaml_gives_for_valid_values():
    c = TrainConfig.from_dict({"hidden": 64, "actor_lr": 1, "max_minutes": 2})  # an int is a number
    assert c.actor_lr == 1
    # PyYAML (YAML 1.1) reads 1e-3 without a dot as text: where a number is meant it is that number
    import yaml
    raw = yaml.safe_load("actor_lr: 1e-3\nreward: {alpha: 2e-1}\nimitate_args:\ngrad_clip: 0\nmax_seq: null")
    assert raw["actor_lr"] == "1e-3" and raw["imitate_args"] is None
    c = TrainConfig.from_dict(raw)
    assert c.actor_lr == 1e-3 and isinstance(c.actor_lr, float) and c.reward.alpha == 0.2
    assert c.imitate_args == {} and c.grad_clip == 0 and c.max_seq is None  # grad_clip 0: no clipping
    for bad in ("fast", "nan", "1e999"):
        with pytest.raises(InputError, match="actor_lr must be a number"):
            TrainConfig.from_dict({"actor_lr": bad})


def test_recipes_merge_over_the_train_section():
    cfg = {"_path": "c.yaml", "train": {"hidden": 128, "rl_updates": 7, "recipe": "bc-ddpg",
                                        "recipes": {"paper": {"hidden": 256},
                                                    "bc-ddpg": {"imitate": "edf-h", "bc_weight": 1.0}}}}
    ours = train_config(cfg, None, [])
    assert (ours.recipe, ours.hidden, ours.imitate, ours.rl_updates) == ("bc-ddpg", 128, "edf-h", 7)
    paper = train_config(cfg, "paper", ["reward.delta=0.5", "gamma=0.5"])
    assert (paper.recipe, paper.hidden, paper.imitate, paper.bc_weight) == ("paper", 256, None, 0.0)
    assert paper.reward.delta == 0.5 and paper.gamma == 0.5
    with pytest.raises(InputError):
        train_config(cfg, "nope", [])
    with pytest.raises(InputError):
        train_config(cfg, None, ["hidden"])


def test_seeds_for_training_and_validation_avoid_evaluation_seeds():
    tr, va = derived_seeds(0, 0, 50), derived_seeds(0, 1, 50)
    assert min(tr + va) >= SEED_FLOOR and not set(tr) & set(va)
    assert derived_seeds(0, 1, 5) == va[:5] and derived_seeds(1, 1, 5) != va[:5]


def _transition(rng, R, F_=12, G=5, labelled=True, starts=True):
    return Transition(rng.standard_normal((R + 1, F_)).astype(np.float32), rng.uniform(-1, 1, (R, G)).astype(np.float32),
                      float(rng.normal()), rng.standard_normal((R // 2 + 1, F_)).astype(np.float32), bool(R % 2),
                      rng.uniform(-1, 1, R).astype(np.float32) if labelled else None,
                      rng.integers(0, G - 1, R) if labelled else None,
                      rng.random(R) < 0.5 if labelled and starts else None)


def test_replay_buffer_ring_and_state_roundtrip():
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(5, 12, 5)
    for i in range(7):
        buf.add(_transition(rng, i, labelled=i % 2 == 0, starts=i != 6))
    assert len(buf) == 5 and buf.pos == 2
    assert buf.items[0].a.shape[0] == 5 and buf.items[1].a.shape[0] == 6  # the two oldest were overwritten
    other = ReplayBuffer(1, 12, 5)
    other.load_state_dict(buf.state_dict())
    assert (other.capacity, other.pos, len(other)) == (5, 2, 5)
    for a, b in zip(buf.items, other.items):
        assert np.array_equal(a.x, b.x) and np.array_equal(a.a, b.a) and np.array_equal(a.x2, b.x2)
        assert a.r == b.r and a.done == b.done and (a.sa is None) == (b.sa is None)
        if a.sa is not None:
            assert np.array_equal(a.sa, b.sa) and np.array_equal(a.prio, b.prio)
            assert (a.starts is None) == (b.starts is None)
            assert a.starts is None or (b.starts.dtype == bool and np.array_equal(a.starts, b.starts))
    assert sum(t.starts is None and t.sa is not None for t in other.items) == 1  # the one without flags
    assert buf.labelled().tolist() == [i for i, t in enumerate(buf.items) if t.sa is not None]
    with pytest.raises(ValueError):
        ReplayBuffer(3, 10, 5).load_state_dict(buf.state_dict())
    bad = buf.state_dict()
    bad["starts"] = bad["starts"][1:]
    with pytest.raises(ValueError, match="differ in length"):
        ReplayBuffer(1, 12, 5).load_state_dict(bad)


def test_expert_targets_and_action():
    prio = np.array([5.0, 1.0, 3.0, 3.0])
    order = np.array([1, 0, 2, 3])
    p, sa = expert_targets(prio, np.array([0, 1, 2, 1]), order)
    np.testing.assert_allclose(p, [-1.0, 1.0, 0.0, 0.0])  # ranks 0 and 3; the tie shares rank 1.5
    assert sa.tolist() == [1, 0, 2, 1]
    a = expert_action(p, sa, 3)
    assert a.shape == (4, 4) and a[0].tolist() == [-1.0, -1.0, 1.0, -1.0]


def test_soft_update():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    wa, wb = a.weight.detach().clone(), b.weight.detach().clone()
    soft_update(a, b, 0.25)
    torch.testing.assert_close(a.weight, 0.75 * wa + 0.25 * wb)


def _expert_data(n_eps: int = 3):
    scen = scenario(seed=2, jobs=20)
    spec = EncoderSpec.from_costs(scen.costs)
    expert, sim = get_scheduler("edf-h"), Simulator(scen.costs, T)
    items = []
    for ep in range(n_eps):
        sim.reset(scen.make_workload(100 + ep, None))
        rq = sim.observe()
        while rq is not None:
            x, order = encode(rq, spec)
            p, s = expert.schedule(rq)
            pt, st = expert_targets(p, s, order)
            info = sim.step(p, s, simulate_out=False, residual_queue=True)
            items.append(Transition(x, expert_action(pt, st, spec.num_sas), 0.0, encode(info.residual_rq, spec)[0],
                                    info.done, pt, st))
            rq = sim.observe()
    return spec, items


def test_behaviour_cloning_learns_the_expert_sa_choice():
    torch.manual_seed(0)
    spec, items = _expert_data()
    assert len(items) > 20
    learner = Learner(spec, TrainConfig(hidden=32, imitate="edf-h", imitation_lr=3e-3))
    batch = Batch(items, spec.num_features, spec.num_outputs, need_next=False)
    first = learner.bc_update(batch)
    for _ in range(100):
        last = learner.bc_update(batch)
    assert last["bc_loss"] < 0.6 * first["bc_loss"]
    assert last["bc_sa_acc"] > max(0.6, first["bc_sa_acc"] + 0.2)
    assert last["bc_rank"] < first["bc_rank"]


def test_bc_loss_weights_move_its_focus_not_its_scale():
    from relmas.ddpg import bc_loss

    torch.manual_seed(0)
    out = torch.randn(2, 5, 4)
    prio = torch.randn(2, 5)
    sa = torch.randint(0, 3, (2, 5))
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, 3:] = False
    plain, _ = bc_loss(out, prio, sa, mask, 0.1, 0.1)
    ones, _ = bc_loss(out, prio, sa, mask, 0.1, 0.1, torch.ones(2, 5))
    torch.testing.assert_close(plain, ones)
    # all the weight on one SJ: the SA part is that SJ's cross-entropy, the rank part its pairs' mean
    w = torch.ones(2, 5)
    w[0, 2] = 1e9
    focused, info = bc_loss(out, prio, sa, mask, 0.1, 0.1, w)
    ce = torch.nn.functional.cross_entropy(out[0, 2:3, 1:] / 0.1, sa[0, 2:3])
    p = out[0, :, 0]
    pairs = [torch.nn.functional.softplus(-(p[i] - p[j]) / 0.1) for i in range(5) for j in range(5)
             if (i == 2 or j == 2) and prio[0, i] > prio[0, j]]
    torch.testing.assert_close(focused, ce + torch.stack(pairs).mean(), rtol=1e-4, atol=1e-4)
    assert "bc_sa_acc_starts" in info and "bc_sa_acc_starts" not in bc_loss(out, prio, sa, mask, 0.1, 0.1)[1]


def test_bc_loss_on_accepted_sas():
    torch.manual_seed(0)
    out = torch.randn(2, 5, 5)
    prio, sa = torch.randn(2, 5), torch.randint(0, 4, (2, 5))
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, 3:] = False
    one_hot = torch.nn.functional.one_hot(sa, 4).bool()
    plain, plain_info = bc_loss(out, prio, sa, mask, 0.1, 0.1)
    same, _ = bc_loss(out, prio, sa, mask, 0.1, 0.1, sa_ok=one_hot)  # only the expert's SA: plain CE
    torch.testing.assert_close(same, plain)
    _, info = bc_loss(out, prio, sa, mask, 0.1, 0.1, sa_ok=torch.ones(2, 5, 4, dtype=torch.bool))
    assert info["bc_sa_ce"] == pytest.approx(0.0, abs=1e-5) and info["bc_sa_ok_acc"] == 1.0
    assert info["bc_rank"] == pytest.approx(plain_info["bc_rank"])  # the priority part is untouched
    two = one_hot.clone()
    two[..., 0] = True  # a second accepted SA lowers the SA loss where it is not the expert's
    _, info2 = bc_loss(out, prio, sa, mask, 0.1, 0.1, sa_ok=two)
    assert info2["bc_sa_ce"] < plain_info["bc_sa_ce"]
    # on the started SJs (weight > 1) the accepted-set accuracy is logged apart: it is the one that acts
    weight = torch.ones(2, 5)
    weight[0, :2] = 16.0
    _, info3 = bc_loss(out, prio, sa, mask, 0.1, 0.1, weight=weight, sa_ok=two)
    pick = out[0, :2, 1:].argmax(-1)
    want = float(two[0, :2].gather(-1, pick[:, None]).float().mean())
    assert info3["bc_sa_ok_acc_starts"] == pytest.approx(want)
    assert abs(want - info3["bc_sa_ok_acc"]) > 0.05  # this draw tells the started SJs' figure from the overall one
    assert "bc_sa_ok_acc_starts" in CSV_FIELDS and "bc_sa_ok_acc" in CSV_FIELDS


def test_bc_update_learns_from_the_accepted_sas():
    rng = np.random.default_rng(3)
    items = [_transition(rng, 4), _transition(rng, 3)]
    for t in items:
        t.sa_ok = np.full(t.sa.shape, 0b1111, np.int64)  # every SA accepted: no SA loss at all
    learner = Learner(EncoderSpec(4, ("a", "b"), (3, 3)), TrainConfig(hidden=8))
    info = learner.bc_update(Batch(items, 12, 5, False))
    assert info["bc_sa_ce"] == pytest.approx(0.0, abs=1e-5) and info["bc_sa_ok_acc"] == 1.0
    for t in items:
        t.sa_ok = None
    assert learner.bc_update(Batch(items, 12, 5, False))["bc_sa_ce"] > 0.1


def test_batch_and_buffer_carry_accepted_sas():
    rng = np.random.default_rng(1)
    a, b = _transition(rng, 4), _transition(rng, 3)
    a.sa_ok = (np.int64(1) << a.sa) | 0b1000
    batch = Batch([a, b], 12, 5)
    assert batch.sa_ok.shape == (2, 4, 4)
    assert batch.sa_ok[0, :, 3].all() and batch.sa_ok[0].sum(-1).tolist() == [1 + (s != 3) for s in a.sa]
    assert batch.sa_ok[1, :3].sum(-1).tolist() == [1, 1, 1]  # without sa_ok: the expert's SA alone
    assert Batch([b], 12, 5).sa_ok is None
    buf = ReplayBuffer(4, 12, 5)
    buf.add(a), buf.add(b)
    other = ReplayBuffer(1, 12, 5)
    other.load_state_dict(buf.state_dict())
    assert np.array_equal(other.items[0].sa_ok, a.sa_ok) and other.items[1].sa_ok is None


def test_bc_sa_tolerance_setting():
    TrainConfig(bc_sa_tolerance=0.02)
    for bad in (-0.1, "wide", True):
        with pytest.raises(ValueError, match="bc_sa_tolerance"):
            TrainConfig(bc_sa_tolerance=bad)


def test_training_with_accepted_sas_stores_them_and_resumes_exactly(tmp_path):
    cfg = TrainConfig(**{**TINY, "bc_sa_tolerance": 0.0, "expert_episodes": 1, "bc_start_weight": 4.0})
    full = train(cfg, scenario(jobs=8), tmp_path / "a", seed=2, progress=False)
    assert full.finished
    d = load_checkpoint(tmp_path / "a" / "last.pt", formats=("relmas-train",))["buffer"]
    buf = ReplayBuffer(1, int(d["F"]), int(d["G"]))
    buf.load_state_dict(d)
    lab = [t for t in buf.items if t.sa is not None]
    assert lab and all(t.sa_ok is not None and ((t.sa_ok >> t.sa) & 1).all() for t in lab)
    cut = train(cfg, scenario(jobs=8), tmp_path / "b", seed=2, progress=False, stop_after_updates=15)
    assert not cut.finished
    again = train(cfg, scenario(jobs=8), tmp_path / "b", seed=2, progress=False)
    assert again.finished
    import csv

    def rows(d):
        with open(d / "metrics.csv", newline="") as fh:
            return [{k: v for k, v in r.items() if k not in ("wall_s", "cpu_s")} for r in csv.DictReader(fh)]

    assert rows(tmp_path / "a") == rows(tmp_path / "b")


def test_actor_ema_setting():
    TrainConfig(actor_ema=0.99)
    for bad in (0, 1, 1.5, "slow", True):
        with pytest.raises(ValueError, match="actor_ema"):
            TrainConfig(actor_ema=bad)


def test_actor_ema_averages_the_actor_after_each_step():
    rng = np.random.default_rng(4)
    items = [_transition(rng, 4), _transition(rng, 3)]
    spec = EncoderSpec(4, ("a", "b"), (3, 3))
    learner = Learner(spec, TrainConfig(hidden=8, actor_ema=0.75))
    plain = Learner(spec, TrainConfig(hidden=8))
    assert plain.policy is plain.actor and learner.policy is not learner.actor
    snaps = []
    for _ in range(3):
        learner.bc_update(Batch(items, 12, 5, False))
        snaps.append([p.detach().clone() for p in learner.actor.parameters()])
    # the first step's weights are copied, then each step's weigh 1 - decay
    for avg, a1, a2, a3 in zip(learner.policy.parameters(), *snaps):
        torch.testing.assert_close(avg, 0.75 * (0.75 * a1 + 0.25 * a2) + 0.25 * a3)
    assert not all(torch.equal(p, q) for p, q in zip(learner.policy.parameters(), learner.actor.parameters()))
    other = Learner(spec, TrainConfig(hidden=8, actor_ema=0.75))
    other.load_state_dict(learner.state_dict(), "ckpt.pt")
    assert all(torch.equal(p, q) for p, q in zip(other.policy.parameters(), learner.policy.parameters()))
    with pytest.raises(InputError, match="actor_avg"):
        other.load_state_dict(plain.state_dict(), "ckpt.pt")


def test_training_with_actor_ema_keeps_the_average_and_resumes_exactly(tmp_path, monkeypatch):
    import relmas.ddpg as ddpg

    validated = []

    def spy(actor, *args, **kwargs):
        # the average is a frozen copy; the actor being trained has gradients on
        validated.append(not any(p.requires_grad for p in actor.parameters()))
        return real_evaluate(actor, *args, **kwargs)

    real_evaluate = ddpg.evaluate
    monkeypatch.setattr(ddpg, "evaluate", spy)
    cfg = TrainConfig(**{**TINY, "actor_ema": 0.9, "expert_episodes": 1})
    full = train(cfg, scenario(jobs=8), tmp_path / "a", seed=3, progress=False)
    assert full.finished
    assert validated and all(validated)  # validation (and so best.pt) sees the average
    ck = load_checkpoint(tmp_path / "a" / "last.pt", formats=("relmas-train",))
    avg = {k[len("module."):]: v for k, v in ck["learner"]["actor_avg"].items() if k.startswith("module.")}
    assert all(torch.equal(ck["policy"]["actor"][k], v) for k, v in avg.items())  # the policy is the average
    assert any(not torch.equal(ck["learner"]["actor"][k], v) for k, v in avg.items())
    cut = train(cfg, scenario(jobs=8), tmp_path / "b", seed=3, progress=False, stop_after_updates=15)
    assert not cut.finished
    assert train(cfg, scenario(jobs=8), tmp_path / "b", seed=3, progress=False).finished
    for name in ("last.pt", "best.pt"):
        a = load_checkpoint(tmp_path / "a" / name, formats=("relmas-train", "relmas-policy"))
        b = load_checkpoint(tmp_path / "b" / name, formats=("relmas-train", "relmas-policy"))
        pa, pb = (x.get("policy", x)["actor"] for x in (a, b))
        assert all(torch.equal(pa[k], pb[k]) for k in pa)


def test_imitation_lr_schedule_cosine_falls_to_zero_over_the_imitation_updates():
    spec = EncoderSpec(4, ("a", "b"), (3, 3))
    flat = Learner(spec, TrainConfig(hidden=8, imitation_lr=2e-3))
    cos = Learner(spec, TrainConfig(hidden=8, imitation_lr=2e-3, imitation_updates=100, imitate="edf-h",
                                    imitation_lr_schedule="cosine"))
    assert [flat.bc_lr(t) for t in (0, 50, 100)] == [2e-3] * 3
    assert [cos.bc_lr(t) for t in (0, 25, 50, 100, 150)] == pytest.approx(
        [2e-3, 2e-3 * (1 + 0.5 ** 0.5) / 2, 1e-3, 0.0, 0.0])
    rng = np.random.default_rng(4)
    items = [_transition(rng, 4), _transition(rng, 3)]
    before = [p.detach().clone() for p in cos.actor.parameters()]
    cos.bc_update(Batch(items, 12, 5, False), t=100)  # at t = imitation_updates the rate is 0: Adam moves nothing
    assert cos.bc_opt.param_groups[0]["lr"] == 0.0
    assert all(torch.equal(p, q) for p, q in zip(before, cos.actor.parameters()))
    cos.bc_update(Batch(items, 12, 5, False), t=50)
    assert cos.bc_opt.param_groups[0]["lr"] == pytest.approx(1e-3)
    assert not all(torch.equal(p, q) for p, q in zip(before, cos.actor.parameters()))
    with pytest.raises(InputError) as e:
        TrainConfig.from_dict({"imitation_lr_schedule": "linear"})
    assert e.value.field == "imitation_lr_schedule" and "constant or cosine" in e.value.message


def test_training_with_a_cosine_schedule_resumes_exactly(tmp_path):
    """The rate is a function of the BC update count in last.pt, so a cut run continues the same schedule."""
    cfg = TrainConfig(**{**TINY, "imitation_lr_schedule": "cosine", "expert_episodes": 1})
    assert train(cfg, scenario(jobs=8), tmp_path / "a", seed=3, progress=False).finished
    assert not train(cfg, scenario(jobs=8), tmp_path / "b", seed=3, progress=False, stop_after_updates=10).finished
    # the cut run kept a checkpoint past the first BC updates, so the resumed run starts mid-schedule
    assert 0 < load_checkpoint(tmp_path / "b" / "last.pt")["state"]["bc_updates"] < cfg.imitation_updates
    assert train(cfg, scenario(jobs=8), tmp_path / "b", seed=3, progress=False).finished
    flat = train(TrainConfig(**{**TINY, "expert_episodes": 1}), scenario(jobs=8), tmp_path / "c", seed=3,
                 progress=False)
    assert flat.finished
    pa, pb, pc = (load_checkpoint(tmp_path / d / "last.pt")["policy"]["actor"] for d in "abc")
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not all(torch.equal(pa[k], pc[k]) for k in pa)  # the schedule changed the training


def test_stored_states_cover_the_sjs_the_expert_starts(tmp_path):
    cfg = TrainConfig(**{**TINY, "max_seq": 2, "seq_cover_starts": True, "bc_start_weight": 2.0})
    train(cfg, scenario(jobs=8), tmp_path, seed=0, progress=False, stop_after_updates=14)
    buf = ReplayBuffer(1, 1, 1)
    d = load_checkpoint(tmp_path / "last.pt", formats=("relmas-train",))["buffer"]
    buf.F, buf.G = int(d["F"]), int(d["G"])
    buf.load_state_dict(d)
    lab = [t for t in buf.items if t.sa is not None]
    assert lab and all(t.starts is not None and t.starts.shape == t.sa.shape for t in lab)
    # cut at max_seq = 2 unless the expert started an SJ past it; then kept up to the last one started
    assert all(t.sa.shape[0] == max(2, int(np.flatnonzero(t.starts)[-1]) + 1 if t.starts.any() else 2)
               or t.sa.shape[0] < 2 for t in lab)
    assert any(t.sa.shape[0] > 2 for t in lab)
    unlabelled = [t for t in buf.items if t.sa is None]
    assert all(t.a.shape[0] <= 2 for t in unlabelled)


def test_ddpg_updates_fit_the_critic_and_climb_it():
    torch.manual_seed(0)
    spec, items = _expert_data(1)
    for t in items:
        t.r = float(np.tanh(t.x[1:, 2].mean()))  # a reward the critic can read off the state
    learner = Learner(spec, TrainConfig(hidden=16, gamma=0.0, critic_lr=3e-3, actor_lr=1e-3))
    b = Batch(items[:32], spec.num_features, spec.num_outputs)
    first = learner.critic_update(b)
    for _ in range(80):
        info = learner.critic_update(b)
    assert info["critic_loss"] < 0.3 * first["critic_loss"]
    before = [p.detach().clone() for p in learner.critic.parameters()]
    q0 = learner.actor_update(b)["q_pi"]
    for _ in range(20):
        q1 = learner.actor_update(b)["q_pi"]
    assert q1 > q0  # the actor climbs the (frozen) critic ...
    assert all(torch.equal(p, q) for p, q in zip(before, learner.critic.parameters()))  # ... without moving it
    actor_t0 = [p.detach().clone() for p in learner.actor_t.parameters()]
    info = learner.ddpg_update(b)
    assert {"critic_loss", "actor_loss", "q_pi"} <= set(info)
    assert any(not torch.equal(p, q) for p, q in zip(actor_t0, learner.actor_t.parameters()))


def _weights(path: Path) -> dict:
    return load_checkpoint(path)["learner"]


def test_training_is_deterministic_and_resumes_exactly(tmp_path):
    cfg = TrainConfig(**TINY)
    a = train(cfg, scenario(), tmp_path / "a", seed=3, progress=False)
    assert a.finished and a.updates == cfg.total_updates
    for f in ("best.pt", "last.pt", "metrics.csv", "learning_curve.png"):
        assert (tmp_path / "a" / f).is_file()
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "a" / "tb").iterdir())
    assert a.history[0]["phase"] == "init" and any(r["val_sla"] != "" for r in a.history[1:])
    phases = [r["phase"] for r in a.history]
    assert "imitation" in phases and "rl" in phases
    actor, spec, meta = load_policy(tmp_path / "a" / "best.pt")
    assert meta["val_sla"] == pytest.approx(a.best_val_sla) and actor.hidden == 16
    # same seed, same run
    b = train(cfg, scenario(), tmp_path / "b", seed=3, progress=False)
    wa, wb = _weights(tmp_path / "a" / "last.pt"), _weights(tmp_path / "b" / "last.pt")
    for k in wa["actor"]:
        assert torch.equal(wa["actor"][k], wb["actor"][k])
    # interrupted half-way (nothing saved after the last checkpoint), then the same call resumes
    c1 = train(cfg, scenario(), tmp_path / "c", seed=3, progress=False, stop_after_updates=17)
    assert not c1.finished
    c = train(cfg, scenario(), tmp_path / "c", seed=3, progress=False)
    assert c.finished
    wc = _weights(tmp_path / "c" / "last.pt")
    for k in wa["actor"]:
        assert torch.equal(wa["actor"][k], wc["actor"][k])
    for k in wa["critic"]:
        assert torch.equal(wa["critic"][k], wc["critic"][k])
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("wall_s", "cpu_s")} for r in rows]  # noqa: E731
    import csv
    rows = lambda d: list(csv.DictReader(open(tmp_path / d / "metrics.csv")))  # noqa: E731
    assert strip(rows("a")) == strip(rows("c"))
    # a finished run is not redone; a different configuration is refused
    again = train(cfg, scenario(), tmp_path / "a", seed=3, progress=False)
    assert again.finished and again.updates == a.updates
    with pytest.raises(InputError) as e:
        train(TrainConfig(**{**TINY, "rl_updates": 13}), scenario(), tmp_path / "c", seed=3, progress=False)
    assert e.value.path == str(tmp_path / "c" / "last.pt")


def test_paper_recipe_runs_without_an_expert(tmp_path):
    cfg = TrainConfig(recipe="paper", hidden=16, rl_updates=10, batch_size=4, learning_starts=6, val_every=5,
                      val_seeds=1, charge_overhead="off")
    r = train(cfg, scenario(), tmp_path, seed=0, progress=False)
    assert r.finished and r.updates == 10
    assert all(row["bc_loss"] == "" for row in r.history)
    assert any(row["critic_loss"] != "" for row in r.history)


KILL_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_ddpg import TINY, scenario
    from relmas.ddpg import TrainConfig, train
    cfg = TrainConfig(**{{**TINY, "rl_updates": 400, "imitation_updates": 30}})
    train(cfg, scenario(), sys.argv[1], seed=5, progress=False)
""")


def test_kill_9_mid_run_then_the_same_call_continues(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=str(ROOT / "tests")))
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(out)], cwd=ROOT, env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # wait for a checkpoint past the start
            if (out / "metrics.csv").is_file() and len((out / "metrics.csv").read_text().splitlines()) >= 4:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    st = load_checkpoint(out / "last.pt")["state"]
    assert not st["finished"] and st["episode"] >= 1
    cfg = TrainConfig(**{**TINY, "rl_updates": 400, "imitation_updates": 30})
    res = train(cfg, scenario(), out, seed=5, progress=False)
    assert res.finished and res.updates == cfg.total_updates
    assert load_policy(out / "best.pt")[0].hidden == 16


def test_time_limit_stops_mid_episode_and_a_larger_limit_continues(tmp_path):
    cfg = TrainConfig(**{**TINY, "max_minutes": 1e-4})  # 6 ms: out of time after the first step
    r = train(cfg, scenario(), tmp_path, seed=0, progress=False)
    assert not r.finished and r.updates < cfg.total_updates
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "learning_curve.png").is_file()
    assert r.history[-1]["episode_sla"] == ""  # the cut episode has no SLA rate
    again = train(cfg, scenario(), tmp_path, seed=0, progress=False)  # same limit: nothing to do
    assert again.updates == r.updates and not again.finished
    more = train(TrainConfig(**{**TINY, "max_minutes": 60.0}), scenario(), tmp_path, seed=0, progress=False)
    assert more.finished and more.updates == cfg.total_updates


@pytest.mark.parametrize("clock", ["cpu", "wall"])
def test_time_limit_counts_the_chosen_clock_and_both_are_logged(tmp_path, clock):
    cfg = TrainConfig(**{**TINY, "max_minutes": 1e-4, "budget_clock": clock})
    r = train(cfg, scenario(), tmp_path, seed=0, progress=False)
    assert not r.finished
    import csv
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    last = rows[-1]
    used = float(last["cpu_s"] if clock == "cpu" else last["wall_s"])
    assert used >= 60 * 1e-4
    assert float(last["wall_s"]) > 0 and float(last["cpu_s"]) > 0


def test_unknown_budget_clock_is_refused():
    with pytest.raises(InputError, match="budget_clock"):
        TrainConfig.from_dict({**TINY, "budget_clock": "moon"})


def test_deleted_best_policy_is_restored_from_the_checkpoint_on_rerun(tmp_path):
    """A workflow manager deletes an interrupted job's output (best.pt); the rerun must bring it back."""
    cfg = TrainConfig(**{**TINY, "max_minutes": 1e-4})
    train(cfg, scenario(), tmp_path, seed=0, progress=False)
    before = load_checkpoint(tmp_path / "best.pt")
    (tmp_path / "best.pt").unlink()
    again = train(cfg, scenario(), tmp_path, seed=0, progress=False)  # time limit reached: no more training
    assert not again.finished
    after = load_checkpoint(tmp_path / "best.pt")
    assert after["meta"] == before["meta"]
    for k in before["actor"]:
        assert torch.equal(before["actor"][k], after["actor"][k])


def test_training_without_the_overhead_charge_says_so_without_a_progress_bar(tmp_path, capsys):
    """charge_overhead auto and no policy table: the fallback is said on stderr even with progress off (the
    workflow runs --no-progress and keeps stderr in its log)."""
    cfg = TrainConfig(**{**TINY, "charge_overhead": "auto"})
    scen = scenario()
    scen.policy_table = tmp_path / "none.csv"
    train(cfg, scen, tmp_path / "run", seed=3, progress=False, stop_after_updates=1)
    err = capsys.readouterr().err
    assert "training without the decision-overhead charge" in err and str(tmp_path / "none.csv") in err


def test_a_folder_of_other_settings_is_refused_or_restarted_on_request(tmp_path):
    cfg = TrainConfig(**TINY)
    train(cfg, scenario(), tmp_path / "a", seed=3, progress=False, stop_after_updates=10)
    changed = TrainConfig(**{**TINY, "bc_start_weight": 2.0})
    with pytest.raises(InputError) as e:
        train(changed, scenario(), tmp_path / "a", seed=3, progress=False)
    assert e.value.path == str(tmp_path / "a" / "last.pt") and "bc_start_weight" in str(e.value)
    (tmp_path / "a" / "notes.txt").write_text("kept")
    old_last = (tmp_path / "a" / "last.pt").read_bytes()
    r = train(changed, scenario(), tmp_path / "a", seed=3, progress=False, restart_if_changed=True)
    fresh = train(changed, scenario(), tmp_path / "b", seed=3, progress=False)
    assert r.finished and r.updates == fresh.updates == changed.total_updates
    wa, wb = _weights(tmp_path / "a" / "last.pt"), _weights(tmp_path / "b" / "last.pt")
    assert all(torch.equal(wa["actor"][k], wb["actor"][k]) for k in wa["actor"])
    assert len(r.history) == len(fresh.history)  # the old run's log rows are gone from the folder ...
    aside = list((tmp_path / "a" / "replaced").iterdir())  # ... but kept aside, not deleted
    assert len(aside) == 1 and (aside[0] / "last.pt").read_bytes() == old_last
    assert (aside[0] / "metrics.csv").is_file() and (aside[0] / "tb").is_dir()
    assert (tmp_path / "a" / "notes.txt").read_text() == "kept"


def test_a_folder_of_another_workload_set_says_so(tmp_path):
    """A light run's folder resumed with --workload heavy: the message names the workload set, not the period
    (which differs too, and sorts first)."""
    cfg = TrainConfig(**TINY)
    light = scenario()
    light.meta = {**light.meta, "workload": "light"}
    train(cfg, light, tmp_path, seed=3, progress=False, stop_after_updates=10)
    heavy = scenario()
    heavy.meta = {**heavy.meta, "workload": "heavy"}
    heavy.period = 5 * T
    with pytest.raises(InputError) as e:
        train(cfg, heavy, tmp_path, seed=3, progress=False)
    assert "the workload set differs: checkpoint has 'light', this run has 'heavy'" in e.value.message


def test_a_truncated_checkpoint_says_how_to_recover_and_restart_moves_it_aside(tmp_path, capsys):
    cfg = TrainConfig(**TINY)
    train(cfg, scenario(), tmp_path, seed=3, progress=False, stop_after_updates=10)
    data = (tmp_path / "last.pt").read_bytes()
    (tmp_path / "last.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as e:
        train(cfg, scenario(), tmp_path, seed=3, progress=False)
    assert e.value.path == str(tmp_path / "last.pt")
    assert "truncated" in e.value.message and "delete" in e.value.message and "--restart-if-changed" in e.value.message
    capsys.readouterr()
    r = train(cfg, scenario(), tmp_path, seed=3, progress=False, restart_if_changed=True)
    assert r.finished and r.updates == cfg.total_updates
    assert "is unreadable" in capsys.readouterr().err
    aside = list((tmp_path / "replaced").iterdir())
    assert len(aside) == 1 and (aside[0] / "last.pt").stat().st_size == len(data) // 2
    load_checkpoint(tmp_path / "last.pt")  # the new run's, readable


def test_a_checkpoint_from_before_a_setting_existed_resumes_at_its_default(tmp_path):
    from relmas.checkpoint import save_checkpoint

    cfg = TrainConfig(**TINY)
    train(cfg, scenario(), tmp_path, seed=3, progress=False, stop_after_updates=10)
    ck = load_checkpoint(tmp_path / "last.pt")
    del ck["meta"]["config"]["bc_start_weight"]  # as written before the setting was added
    del ck["buffer"]["starts"]  # and before labels said which SJs start
    save_checkpoint(tmp_path / "last.pt", ck)
    with pytest.raises(InputError, match="bc_start_weight"):  # a non-default value is another run
        train(TrainConfig(**{**TINY, "bc_start_weight": 3.0}), scenario(), tmp_path, seed=3, progress=False)
    r = train(cfg, scenario(), tmp_path, seed=3, progress=False)
    assert r.finished and r.updates == cfg.total_updates
