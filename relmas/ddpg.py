"""Training the RELMAS policy: DDPG with an LSTM actor and critic (paper section 4.2), in one file.

Written CleanRL-style: every hyperparameter is a field of :class:`TrainConfig`,
the loop is :func:`train`, seeds and logging are explicit. The pieces:

* **Environment**: :class:`relmas.sim.simulator.Simulator`'s step API. At each
  invocation the ready queue (RQ) is encoded (:func:`relmas.policy.encode`), the
  actor decides, the period runs, and the decision is simulated out for the
  reward (:func:`relmas.reward.step_reward`).
* **Replay buffer** (:class:`ReplayBuffer`): tuples (s, a, r, s', done) of
  variable length; s' encodes the *residual* RQ only (the SJs of s not started
  in the period, with the SA state at t + T_s), not the new arrivals (paper 4.2).
  Uniform sampling; batches are zero-padded, outputs past each length masked.
* **DDPG** (:meth:`Learner.ddpg_update`): critic regression on
  y = r + gamma (1 - done) Q'(s', mu'(s')); actor ascent on Q(s, mu(s)); target
  networks by Polyak averaging (tau); Gaussian exploration noise on all G action
  values, clipped to [-1, 1]; gradient-norm clipping.
* **Recipes**: ``paper`` is exactly the above from a random actor.
  ``bc-ddpg`` (this toolkit's) first imitates a heuristic expert
  (``imitate: edf-h`` by default) with DAgger-style behaviour cloning, then runs
  the same DDPG with a behaviour-cloning term in the actor loss (TD3+BC form,
  ``bc_weight``), keeping the best policy by validation SLA rate. The expert is
  never called live in the loop: the opening expert-driven episodes are computed
  in a process pool and cached on disk, the queues of each DAgger round are
  labelled in the same pool after the round (:mod:`relmas.labels`), and the RL
  phase's BC term uses a separate batch of the buffer's labelled transitions.

Why not TorchRL's replay buffer or DDPG loss: both assume fixed-shape tensors
(or nested tensors) per transition, whereas each transition here is a pair of
sequences of different lengths that must be padded and masked for ``nn.LSTM``; the
buffer below is 60 lines, has no dependency, and checkpoints as plain tensors
that load with ``weights_only=True``. TorchRL is also not a dependency of the
toolkit, and pinning it to torch 2.13 on CPU would add risk for little reuse.
"""
from __future__ import annotations

import copy
import csv
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from characterize.errors import InputError

from .checkpoint import load_checkpoint, require, save_checkpoint
from .policy import (Actor, Critic, DecisionCost, EncoderSpec, RelmasScheduler, decode, encode, macs_per_step,
                     pad_batch, policy_payload)
from .reward import RewardConfig, step_reward

#: Training recipes. ``paper``: DDPG as published. ``bc-ddpg``: imitation warm start, then DDPG + BC term.
RECIPES = ("paper", "bc-ddpg")
TRAIN_FORMAT = "relmas-train"
#: Seeds of training and validation workloads are drawn at or above this value, so that
#: evaluation seeds below it (0, 1, 2, ...) are never seen in training.
SEED_FLOOR = 1 << 20


# --------------------------------------------------------------------------- #
# Hyperparameters


class SettingError(ValueError):
    """A training setting is invalid; ``setting`` names it (``hidden``, ``reward.alpha``)."""

    def __init__(self, setting: str, message: str):
        self.setting = setting
        self.message = message
        super().__init__(message)


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping"}
_TYPE_NAMES = {"int": int, "float": float, "str": str, "bool": bool, "None": type(None)}


def _check_type(name: str, annotation: str, value: Any) -> Any:
    """``value`` if it has the type ``annotation`` (a string such as ``"int | None"``) names, else an error.

    An int is a valid float; a bool is not a number (YAML reads ``yes`` as true). A string that reads as a
    finite number is taken as that float where a float is expected: PyYAML follows YAML 1.1, which reads
    ``1e-3`` (no dot) as text, and users write learning rates that way.
    """
    if isinstance(value, str) and "float" in annotation:
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number
    allowed = [_TYPE_NAMES[a.strip()] for a in annotation.split("|") if a.strip() in _TYPE_NAMES]
    if annotation.startswith("dict"):
        allowed = [dict]
    if not allowed:  # a type this check does not know (a nested dataclass): left to its own checks
        return value
    ok = any(isinstance(value, t) and not (t in (int, float) and isinstance(value, bool)) for t in allowed) or (
        float in allowed and isinstance(value, int) and not isinstance(value, bool))
    if isinstance(value, float) and float in allowed and not math.isfinite(value):
        ok = False
    if not ok:
        words = " or ".join("null" if t is type(None) else _TYPE_WORDS[t] for t in allowed)
        raise SettingError(name, f"{name} must be {words}, got {value!r}")
    return value


@dataclass
class TrainConfig:
    """Every hyperparameter of a training run (the ``train:`` section of config.yaml).

    Attributes:
        recipe: ``paper`` (DDPG from scratch) or ``bc-ddpg`` (imitation warm start, then DDPG + BC term).
        hidden: LSTM hidden size h of actor and critic (paper: 256).
        gamma: discount per scheduling period (the paper does not give it).
        tau: Polyak factor of the target networks.
        actor_lr, critic_lr: Adam learning rates (DDPG paper's 1e-4 and 1e-3).
        batch_size: transitions per update.
        buffer_size: replay capacity (transitions).
        learning_starts: transitions in the buffer before the first DDPG update.
        updates_per_step: DDPG updates per environment step (decision).
        rl_updates: DDPG updates in the run.
        exploration_noise: std of the Gaussian noise added to each action value.
        grad_clip: max gradient norm (0: off).
        reward_scale: rewards are multiplied by this before learning (1: the paper's values).
        max_seq: keep only the first max_seq SJs (by deadline) of stored states (None: all).
        imitate: expert scheduler imitated before RL (``edf-h``, ``fcfs-h``, ...; None: no warm start).
        imitate_args: keyword arguments of the expert (e.g. ``{generations: 20, population: 30}``).
        imitation_updates: behaviour-cloning updates before RL.
        imitation_lr: Adam learning rate of behaviour cloning.
        imitation_lr_schedule: ``constant`` (the default) or ``cosine``: the BC learning rate of update t
            (0-based) is ``imitation_lr * (1 + cos(pi t / imitation_updates)) / 2``, falling towards 0 over
            the imitation updates (not in the paper; tried because validation oscillates once the fit plateaus).
        imitation_updates_per_step: BC updates per environment step while imitating.
        expert_episodes: expert-driven episodes that open the run when an expert is set (the
            first workload seeds of the training stream); computed in a process pool and cached
            on disk (:mod:`relmas.labels`), then added to the buffer with their updates.
        dagger: after the expert episodes, imitation goes on in DAgger rounds: the learner drives
            one episode (deterministic, no noise), the queues it visited are labelled by the
            expert in the pool, and the labelled transitions are learnt from (False: further
            expert-driven episodes instead).
        label_workers: processes computing expert labels (0: one per CPU of the machine; the
            workflow passes its job's threads); does not change what is learnt.
        bc_weight: weight of the behaviour-cloning loss in the RL actor loss (0: the paper's
            loss -Q; > 0: -Q / mean|Q| + bc_weight * BC, as in TD3+BC, with BC computed on a
            separate batch of labelled transitions of the buffer).
        sa_temperature: temperature of the SA scores u_m in the cross-entropy of BC.
        prio_temperature: temperature of the pairwise ranking loss on priorities in BC.
        bc_start_weight: extra weight, in the BC loss, of the SJs that the expert's decision starts
            within the period (weight 1 + this; the others weigh 1). Only those SJs' SAs and order act
            now; the rest of the queue is decided again at the next invocation (0: all SJs alike).
        bc_sa_tolerance: None (default): the SA target of BC is the expert's SA. A number: for the SJs
            the expert starts in the period, every SA to which moving the SJ loses no queue job and at
            most this much of MAGMA's fitness is accepted, and the SA loss is -log of the probability
            of the accepted set (:func:`relmas.labels.accepted_sas`; not in the paper).
        dagger_seed_learner: in DAgger rounds, the learner's own decision joins the initial population
            of the (MAGMA) expert's search for each visited queue, so the label is the best decision
            the search finds from the learner's and the heuristics' (expert iteration; not in the paper).
        actor_ema: None (default): the policy validated, kept and rolled out in DAgger rounds is the
            actor being trained. A decay d in (0, 1): it is an exponential moving average of the actor's
            weights after every actor step (BC or DDPG), w <- d w + (1 - d) w_actor (torch's
            ``AveragedModel``; not in the paper). The RL phase's noisy rollouts keep the trained actor.
        seq_cover_starts: with ``max_seq``, a labelled state is kept up to the last SJ the expert starts
            in the period when that lies past ``max_seq`` (False: always cut at ``max_seq``).
        critic_warmup_updates: critic-only updates on the imitation data before the first actor update.
        val_seeds: validation workloads (distinct seeds, never used for training).
        val_jobs: jobs per validation workload (None: the workload set's ``jobs``).
        val_every: validate every this many updates (BC and DDPG together), at episode ends.
        episode_jobs: jobs per training episode (None: the workload set's ``jobs``).
        charge_overhead: charge the policy's decision cost to its SA while training and
            validating: ``auto`` (when the policy table has this hidden size), ``on``, ``off``.
        checkpoint_every_s: write ``last.pt`` when this many seconds passed, at episode ends.
        max_minutes: stop when the run's time (``budget_clock``) reaches this, even mid-episode (the policy then
            is validated and saved; None: no limit). A run stopped so is not bit-for-bit
            reproducible; raising the limit and re-running continues it.
        budget_clock: what ``max_minutes`` counts: ``cpu`` (CPU time of the training process and its
            label workers; the default, so that a run learns as much when the workflow puts several
            jobs on one core as when it has the core to itself) or ``wall`` (wall-clock time).
        threads: torch intra-op threads.
        reward: the reward's coefficients.
    """

    recipe: str = "paper"
    hidden: int = 256
    gamma: float = 0.9
    tau: float = 0.005
    actor_lr: float = 1e-4
    critic_lr: float = 1e-3
    batch_size: int = 64
    buffer_size: int = 100_000
    learning_starts: int = 256
    updates_per_step: float = 1.0
    rl_updates: int = 2000
    exploration_noise: float = 0.1
    grad_clip: float = 1.0
    reward_scale: float = 1.0
    max_seq: int | None = None
    imitate: str | None = None
    imitate_args: dict[str, Any] = field(default_factory=dict)
    imitation_updates: int = 0
    imitation_lr: float = 1e-3
    imitation_lr_schedule: str = "constant"
    imitation_updates_per_step: float = 2.0
    expert_episodes: int = 4
    dagger: bool = True
    label_workers: int = 0
    bc_weight: float = 0.0
    sa_temperature: float = 0.1
    prio_temperature: float = 0.1
    bc_start_weight: float = 0.0
    seq_cover_starts: bool = False
    bc_sa_tolerance: float | None = None
    dagger_seed_learner: bool = False
    actor_ema: float | None = None
    critic_warmup_updates: int = 0
    val_seeds: int = 2
    val_jobs: int | None = None
    val_every: int = 250
    episode_jobs: int | None = None
    charge_overhead: str = "auto"
    checkpoint_every_s: float = 60.0
    max_minutes: float | None = None
    budget_clock: str = "cpu"
    threads: int = 1
    reward: RewardConfig = field(default_factory=RewardConfig)

    def __post_init__(self) -> None:
        if isinstance(self.reward, dict):
            self.reward = RewardConfig(**self.reward)
        if not isinstance(self.reward, RewardConfig):
            raise SettingError("reward", f"reward must be a mapping of coefficients, got {self.reward!r}")
        if self.imitate_args is None:  # `imitate_args:` left empty in YAML
            self.imitate_args = {}
        for f in fields(self):  # YAML gives any scalar: check each setting's type before comparing it
            if f.name != "reward":
                setattr(self, f.name, _check_type(f.name, f.type, getattr(self, f.name)))
        self.reward = RewardConfig(**{f.name: _check_type(f"reward.{f.name}", f.type, getattr(self.reward, f.name))
                                      for f in fields(self.reward)})
        if self.recipe not in RECIPES:
            raise SettingError("recipe", f"unknown recipe '{self.recipe}' (known: {', '.join(RECIPES)})")
        if self.hidden < 2 or self.hidden % 2:
            raise SettingError("hidden", f"hidden must be an even integer >= 2, got {self.hidden}")
        if self.budget_clock not in ("cpu", "wall"):
            raise SettingError("budget_clock", "budget_clock must be cpu or wall")
        if self.imitation_lr_schedule not in ("constant", "cosine"):
            raise SettingError("imitation_lr_schedule", "imitation_lr_schedule must be constant or cosine, "
                               f"got {self.imitation_lr_schedule!r}")
        if self.charge_overhead not in ("auto", "on", "off"):
            raise SettingError("charge_overhead", "charge_overhead must be auto, on or off")
        if self.recipe == "bc-ddpg" and not self.imitate:
            raise SettingError("imitate", "recipe bc-ddpg needs an expert: set imitate (e.g. edf-h)")
        if (self.imitation_updates > 0 or self.bc_weight > 0) and not self.imitate:
            raise SettingError("imitate", "imitation_updates and bc_weight need an expert: set imitate (e.g. edf-h)")
        for name in ("bc_start_weight", "expert_episodes", "label_workers", "imitation_updates", "rl_updates",
                     "critic_warmup_updates", "learning_starts", "bc_weight", "exploration_noise",
                     "checkpoint_every_s", "grad_clip"):
            if getattr(self, name) < 0:
                raise SettingError(name, f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("actor_lr", "critic_lr", "imitation_lr", "updates_per_step", "imitation_updates_per_step",
                     "reward_scale", "sa_temperature", "prio_temperature"):
            if not getattr(self, name) > 0:
                raise SettingError(name, f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise SettingError("max_minutes", f"max_minutes must be null or > 0, got {self.max_minutes!r}")
        if self.bc_sa_tolerance is not None and not self.bc_sa_tolerance >= 0:
            raise SettingError("bc_sa_tolerance",
                               f"bc_sa_tolerance must be null or a number >= 0, got {self.bc_sa_tolerance!r}")
        if self.actor_ema is not None and not 0 < self.actor_ema < 1:
            raise SettingError("actor_ema", f"actor_ema must be null or a decay in (0, 1), got {self.actor_ema!r}")
        if self.dagger_seed_learner and not self.dagger:
            raise SettingError("dagger_seed_learner",
                               "dagger_seed_learner seeds the expert's search in DAgger rounds: it needs dagger: true")
        for name in ("batch_size", "buffer_size", "val_seeds", "val_every", "threads", "max_seq", "val_jobs",
                     "episode_jobs"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise SettingError(name, f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not 0 < self.tau <= 1:
            raise SettingError("tau", f"need 0 < tau <= 1, got {self.tau!r}")
        if not 0 <= self.gamma < 1:
            raise SettingError("gamma", f"need 0 <= gamma < 1, got {self.gamma!r}")

    @property
    def total_updates(self) -> int:
        """BC updates + critic warm-up + DDPG updates of the whole run."""
        return self.imitation_updates + self.critic_warmup_updates + self.rl_updates

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reward"] = self.reward.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str | Path = "config (train)") -> "TrainConfig":
        """Build from a mapping, with errors naming ``where`` and the field."""
        known = {f.name for f in fields(cls)}
        for k in d:
            if k not in known:
                raise InputError(where, k, f"unknown train setting (known: {', '.join(sorted(known))})")
        d = dict(d)
        if isinstance(d.get("reward"), dict):
            rk = {f.name for f in fields(RewardConfig)}
            for k in d["reward"]:
                if k not in rk:
                    raise InputError(where, f"reward.{k}", f"unknown reward setting (known: {', '.join(sorted(rk))})")
        try:
            return cls(**d)
        except SettingError as exc:
            raise InputError(where, exc.setting, exc.message) from None


# --------------------------------------------------------------------------- #
# Replay buffer


@dataclass
class Transition:
    """One decision: s (primer + R SJs), a [R, G], r, s' (residual RQ), done, expert labels."""

    x: np.ndarray
    a: np.ndarray
    r: float
    x2: np.ndarray
    done: bool
    prio: np.ndarray | None = None
    sa: np.ndarray | None = None
    starts: np.ndarray | None = None  # bool [R]: the SJs the expert's decision starts within the period
    sa_ok: np.ndarray | None = None  # int64 [R] bitmasks of accepted SAs (labels.accepted_sas); None: the expert's


class ReplayBuffer:
    """Ring buffer of variable-length transitions, uniform sampling.

    Args:
        capacity: transitions kept (oldest dropped first).
        num_features, num_outputs: F and G (for empty batches and checkpoint checks).
    """

    def __init__(self, capacity: int, num_features: int, num_outputs: int):
        self.capacity = int(capacity)
        self.F, self.G = int(num_features), int(num_outputs)
        self.items: list[Transition] = []
        self.pos = 0
        self._has = np.zeros(self.capacity, dtype=bool)  # slot holds a labelled transition

    def __len__(self) -> int:
        return len(self.items)

    def add(self, t: Transition) -> None:
        if len(self.items) < self.capacity:
            self.items.append(t)
        else:
            self.items[self.pos] = t
        self._has[self.pos] = t.sa is not None
        self.pos = (self.pos + 1) % self.capacity

    def labelled(self) -> np.ndarray:
        """Indices of transitions that carry expert labels."""
        return np.flatnonzero(self._has[:len(self.items)]).astype(np.int64)

    def sample(self, rng: np.random.Generator, n: int, among: np.ndarray | None = None) -> list[Transition]:
        pool = len(self.items) if among is None else len(among)
        idx = rng.integers(0, pool, size=n)
        if among is not None:
            idx = among[idx]
        return [self.items[int(i)] for i in idx]

    def state_dict(self) -> dict[str, Any]:
        """Flat tensors (weights-only loadable)."""
        it = self.items
        cat = lambda arrs, shape, dt: torch.from_numpy(np.concatenate(arrs).astype(dt)) if arrs else \
            torch.zeros(shape, dtype=torch.float32 if dt == np.float32 else torch.int64)  # noqa: E731
        has = [t.sa is not None for t in it]
        return {
            "capacity": self.capacity, "pos": self.pos, "F": self.F, "G": self.G,
            "len_x": torch.tensor([t.x.shape[0] for t in it], dtype=torch.int64),
            "len_x2": torch.tensor([t.x2.shape[0] for t in it], dtype=torch.int64),
            "x": cat([t.x for t in it], (0, self.F), np.float32),
            "x2": cat([t.x2 for t in it], (0, self.F), np.float32),
            "a": cat([t.a for t in it], (0, self.G), np.float32),
            "r": torch.tensor([t.r for t in it], dtype=torch.float64),
            "done": torch.tensor([t.done for t in it], dtype=torch.bool),
            "labelled": torch.tensor(has, dtype=torch.bool),
            "prio": cat([t.prio for t in it if t.sa is not None], (0,), np.float32),
            "sa": cat([t.sa for t in it if t.sa is not None], (0,), np.int64),
            "starts": cat([_starts_of(t) for t in it if t.sa is not None], (0,), np.int64),
            # 0 = none (a real bitmask always holds the expert's SA)
            "sa_ok": cat([np.zeros(t.sa.shape[0], np.int64) if t.sa_ok is None else t.sa_ok
                          for t in it if t.sa is not None], (0,), np.int64),
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        if int(d["F"]) != self.F or int(d["G"]) != self.G:
            raise ValueError(f"replay buffer holds F={d['F']}, G={d['G']}, expected F={self.F}, G={self.G}")
        lx, lx2 = d["len_x"].numpy(), d["len_x2"].numpy()
        ox = np.concatenate([[0], np.cumsum(lx)])
        ox2 = np.concatenate([[0], np.cumsum(lx2)])
        oa = np.concatenate([[0], np.cumsum(lx - 1)])
        x, x2, a = d["x"].numpy(), d["x2"].numpy(), d["a"].numpy()
        prio, sa = d["prio"].numpy(), d["sa"].numpy()
        # a buffer written before labels had ``starts``: unknown (-1) throughout
        starts = d["starts"].numpy() if "starts" in d else np.full(prio.shape[0], -1, np.int64)
        ok = d["sa_ok"].numpy() if "sa_ok" in d else np.zeros(prio.shape[0], np.int64)
        if starts.shape != prio.shape or sa.shape != prio.shape or ok.shape != prio.shape:
            raise ValueError("replay buffer labels (prio, sa, starts, sa_ok) differ in length")
        r, done, lab = d["r"].numpy(), d["done"].numpy(), d["labelled"].numpy()
        if ox[-1] != x.shape[0] or ox2[-1] != x2.shape[0] or oa[-1] != a.shape[0]:
            raise ValueError("replay buffer lengths do not match its arrays")
        items, k = [], 0
        for i in range(lx.shape[0]):
            p = s = b = o = None
            if lab[i]:
                n = int(lx[i] - 1)
                p, s = prio[k:k + n].copy(), sa[k:k + n].copy()
                b = starts[k:k + n] > 0 if n == 0 or starts[k] >= 0 else None
                o = ok[k:k + n].copy() if n and ok[k] > 0 else None
                k += n
            items.append(Transition(x[ox[i]:ox[i + 1]].copy(), a[oa[i]:oa[i + 1]].copy(), float(r[i]),
                                    x2[ox2[i]:ox2[i + 1]].copy(), bool(done[i]), p, s, b, o))
        self.capacity, self.pos, self.items = int(d["capacity"]), int(d["pos"]), items
        self._has = np.zeros(self.capacity, dtype=bool)
        self._has[:len(items)] = [t.sa is not None for t in items]


# --------------------------------------------------------------------------- #
# Losses and updates


def _starts_of(t: Transition) -> np.ndarray:
    """A labelled transition's ``starts`` as int64 (1/0; -1 throughout when unknown), for checkpoints."""
    n = t.sa.shape[0]  # type: ignore[union-attr]
    return np.full(n, -1, np.int64) if t.starts is None else t.starts.astype(np.int64)


def expert_targets(priority: np.ndarray, sa: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An expert decision, in encoding order: (normalised priority rank in [-1, 1], SA index).

    The highest priority maps to +1, the lowest to -1 (ties share their mean rank).
    """
    p = np.asarray(priority, dtype=np.float64)[order]
    R = p.shape[0]
    if R == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    # average ranks, ascending
    srt = np.argsort(p, kind="stable")
    ranks = np.empty(R, dtype=np.float64)
    ranks[srt] = np.arange(R, dtype=np.float64)
    uniq, inv = np.unique(p, return_inverse=True)
    mean_rank = np.bincount(inv, weights=ranks) / np.bincount(inv)
    r = mean_rank[inv]
    target = 2.0 * r / (R - 1) - 1.0 if R > 1 else np.ones(1)
    return target.astype(np.float32), np.asarray(sa, dtype=np.int64)[order]


def expert_action(prio_target: np.ndarray, sa: np.ndarray, num_sas: int) -> np.ndarray:
    """The continuous action [R, G] standing for an expert decision: its rank target, then +1 on its SA, -1 elsewhere."""
    a = -np.ones((prio_target.shape[0], 1 + num_sas), dtype=np.float32)
    a[:, 0] = prio_target
    a[np.arange(sa.shape[0]), 1 + sa] = 1.0
    return a


def bc_loss(out: torch.Tensor, prio: torch.Tensor, sa: torch.Tensor, mask: torch.Tensor,
            prio_temperature: float, sa_temperature: float,
            weight: torch.Tensor | None = None,
            sa_ok: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Behaviour-cloning loss of actor outputs against expert labels.

    Args:
        out: float [B, T, G] actor outputs for the SJ steps (primer removed).
        prio: float [B, T] expert priority targets (higher first).
        sa: int64 [B, T] expert SAs.
        mask: bool [B, T] valid steps.
        weight: float [B, T] weight of each SJ (None: all 1). A pair of SJs in the
            ranking loss weighs the larger of its two weights.
        sa_ok: bool [B, T, M] accepted SAs per SJ (holding the expert's): the SA part is
            then -log of the probability of the accepted set (``bc_sa_tolerance``); None:
            the cross-entropy with the expert's SA.

    The SA part is the (weighted) cross-entropy of softmax(u / sa_temperature) with
    the expert's SA; the priority part is a pairwise (RankNet) logistic loss over
    every pair of SJs of a queue that the expert orders, since only the order
    of priorities matters and a causal LSTM cannot know a rank that depends on
    SJs it has not read yet. Each part is a weighted mean, so the weights set
    where the loss looks, not its scale.
    """
    logits = out[..., 1:] / sa_temperature
    w = torch.ones_like(prio) if weight is None else weight
    wm = w[mask]
    if sa_ok is None:
        nll = F.cross_entropy(logits[mask], sa[mask], reduction="none")
    else:
        lm = logits[mask]
        nll = torch.logsumexp(lm, -1) - torch.logsumexp(lm.masked_fill(~sa_ok[mask], float("-inf")), -1)
    ce = (nll * wm).sum() / wm.sum().clamp(min=1e-9)
    p = out[..., 0]
    diff = (p[:, :, None] - p[:, None, :]) / prio_temperature
    want = (prio[:, :, None] > prio[:, None, :]) & mask[:, :, None] & mask[:, None, :]
    wp = torch.maximum(w[:, :, None], w[:, None, :])[want]
    rank = (F.softplus(-diff)[want] * wp).sum() / wp.sum().clamp(min=1e-9)
    with torch.no_grad():
        hit = (logits.argmax(-1) == sa)
        acc = hit[mask].float().mean().item()
        info = {"bc_sa_ce": ce.item(), "bc_rank": rank.item(), "bc_sa_acc": acc}
        ok = None
        if sa_ok is not None:  # the argmax among the accepted SAs
            ok = sa_ok.gather(-1, logits.argmax(-1, keepdim=True))[..., 0]
            info["bc_sa_ok_acc"] = ok[mask].float().mean().item()
        if weight is not None:
            focus = mask & (weight > 1.0)
            if focus.any():
                info["bc_sa_acc_starts"] = hit[focus].float().mean().item()
                if ok is not None:
                    info["bc_sa_ok_acc_starts"] = ok[focus].float().mean().item()
    return ce + rank, info


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target <- tau * source + (1 - tau) * target."""
    with torch.no_grad():
        for tp, sp in zip(target.parameters(), source.parameters()):
            tp.mul_(1.0 - tau).add_(sp, alpha=tau)


class Batch:
    """Padded tensors of a list of transitions."""

    def __init__(self, items: list[Transition], F_: int, G: int, need_next: bool = True):
        self.x, self.lx = pad_batch([t.x for t in items], F_)
        B, T = self.x.shape[:2]
        a = np.zeros((B, T, G), dtype=np.float32)
        for i, t in enumerate(items):
            a[i, 1:1 + t.a.shape[0]] = t.a
        self.a = torch.from_numpy(a)
        self.r = torch.tensor([t.r for t in items], dtype=torch.float32)
        self.done = torch.tensor([t.done for t in items], dtype=torch.float32)
        if need_next:
            self.x2, self.lx2 = pad_batch([t.x2 for t in items], F_)
        self.mask = (torch.arange(T - 1)[None, :] < (self.lx - 1)[:, None]) if T > 1 else torch.zeros(B, 0, dtype=torch.bool)
        if all(t.sa is not None for t in items):
            prio = np.zeros((B, max(T - 1, 0)), dtype=np.float32)
            sa = np.zeros((B, max(T - 1, 0)), dtype=np.int64)
            for i, t in enumerate(items):
                prio[i, :t.prio.shape[0]] = t.prio
                sa[i, :t.sa.shape[0]] = t.sa
            self.prio, self.sa = torch.from_numpy(prio), torch.from_numpy(sa)
            self.starts = torch.zeros((B, max(T - 1, 0)), dtype=torch.bool)
            for i, t in enumerate(items):
                if t.starts is not None:
                    self.starts[i, :t.starts.shape[0]] = torch.from_numpy(np.asarray(t.starts, dtype=bool))
            self.sa_ok = None
            if any(t.sa_ok is not None for t in items):
                M = G - 1
                ok = np.zeros((B, max(T - 1, 0), M), dtype=bool)
                bits = np.int64(1) << np.arange(M, dtype=np.int64)
                for i, t in enumerate(items):
                    n = t.sa.shape[0]
                    if t.sa_ok is not None:
                        ok[i, :n] = (np.asarray(t.sa_ok, np.int64)[:, None] & bits[None]) != 0
                    else:
                        ok[i, np.arange(n), t.sa] = True
                self.sa_ok = torch.from_numpy(ok)
        else:
            self.prio = self.sa = self.starts = self.sa_ok = None

    def sj_weights(self, start_weight: float) -> torch.Tensor | None:
        """Per-SJ weights of the BC loss: 1 + ``start_weight`` on the SJs the expert starts in the period."""
        if start_weight <= 0 or self.starts is None:
            return None
        return 1.0 + start_weight * self.starts.float()


class Learner:
    """Actor, critic, their targets and optimisers, and the update rules."""

    def __init__(self, spec: EncoderSpec, cfg: TrainConfig):
        self.spec, self.cfg = spec, cfg
        F_, G = spec.num_features, spec.num_outputs
        self.actor = Actor(F_, G, cfg.hidden)
        self.critic = Critic(F_, G, cfg.hidden)
        self.actor_t = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_t = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr)
        self.bc_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.imitation_lr)
        self.actor_avg: AveragedModel | None = None
        if cfg.actor_ema is not None:
            self.actor_avg = AveragedModel(self.actor, multi_avg_fn=get_ema_multi_avg_fn(float(cfg.actor_ema)))
            self.actor_avg.requires_grad_(False)

    @property
    def policy(self) -> Actor:
        """The policy that is validated, kept and deployed: the weight average with ``actor_ema``, else the actor."""
        return self.actor if self.actor_avg is None else self.actor_avg.module  # type: ignore[return-value]

    def _average(self) -> None:
        if self.actor_avg is not None:
            self.actor_avg.update_parameters(self.actor)

    def _step(self, opt: torch.optim.Optimizer, loss: torch.Tensor, params: Any) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        opt.step()

    def bc_lr(self, t: int) -> float:
        """The BC learning rate of imitation update ``t`` (0-based) under ``imitation_lr_schedule``.

        A function of the update count, not a torch LR scheduler with state of its own, so that a
        resumed run (whose count is in ``last.pt``) continues the same schedule.
        """
        cfg = self.cfg
        if cfg.imitation_lr_schedule == "constant" or cfg.imitation_updates <= 0:
            return cfg.imitation_lr
        done = min(t, cfg.imitation_updates) / cfg.imitation_updates
        return cfg.imitation_lr * 0.5 * (1.0 + math.cos(math.pi * done))

    def bc_update(self, b: Batch, t: int = 0) -> dict[str, float]:
        """One behaviour-cloning step of the actor on expert labels (``t``: imitation updates done before)."""
        for group in self.bc_opt.param_groups:
            group["lr"] = self.bc_lr(t)
        out = self.actor(b.x, b.lx)[:, 1:]
        loss, info = bc_loss(out, b.prio, b.sa, b.mask, self.cfg.prio_temperature, self.cfg.sa_temperature,
                             b.sj_weights(self.cfg.bc_start_weight), b.sa_ok)
        self._step(self.bc_opt, loss, self.actor.parameters())
        self._average()
        soft_update(self.actor_t, self.actor, 1.0)
        info["bc_loss"] = loss.item()
        return info

    def critic_update(self, b: Batch) -> dict[str, float]:
        """One critic regression step on y = r + gamma (1 - done) Q'(s', mu'(s'))."""
        cfg = self.cfg
        with torch.no_grad():
            a2 = self.actor_t(b.x2, b.lx2)
            q2 = self.critic_t(b.x2, a2, b.lx2)
            y = cfg.reward_scale * b.r + cfg.gamma * (1.0 - b.done) * q2
        q = self.critic(b.x, b.a, b.lx)
        loss = F.mse_loss(q, y)
        self._step(self.critic_opt, loss, self.critic.parameters())
        return {"critic_loss": loss.item(), "q_mean": q.mean().item(), "target_mean": y.mean().item()}

    def actor_update(self, b: Batch, bc_batch: Batch | None = None) -> dict[str, float]:
        """One actor step: maximise Q(s, mu(s)) (plus the BC term when ``bc_weight`` > 0).

        The BC term is computed on ``bc_batch`` (labelled transitions, e.g. the aggregated expert
        data of the buffer) when given, else on ``b`` when all of ``b`` is labelled.
        """
        cfg = self.cfg
        self.critic.requires_grad_(False)
        try:
            out = self.actor(b.x, b.lx)
            q = self.critic(b.x, out, b.lx)
            info: dict[str, float] = {"q_pi": q.mean().item()}
            lb = bc_batch if bc_batch is not None else b
            if cfg.bc_weight > 0 and lb.sa is not None:
                lam = 1.0 / q.abs().mean().detach().clamp(min=1e-6)
                lout = out[:, 1:] if lb is b else self.actor(lb.x, lb.lx)[:, 1:]
                bc, binfo = bc_loss(lout, lb.prio, lb.sa, lb.mask, cfg.prio_temperature, cfg.sa_temperature,
                                    lb.sj_weights(cfg.bc_start_weight), lb.sa_ok)
                loss = -lam * q.mean() + cfg.bc_weight * bc
                info.update(binfo)
                info["bc_loss"] = bc.item()
            else:
                loss = -q.mean()
            self._step(self.actor_opt, loss, self.actor.parameters())
            self._average()
        finally:
            self.critic.requires_grad_(True)
        info["actor_loss"] = loss.item()
        return info

    def ddpg_update(self, b: Batch, update_actor: bool = True, bc_batch: Batch | None = None) -> dict[str, float]:
        """Critic step, actor step (BC term on ``bc_batch``, see :meth:`actor_update`), then Polyak updates."""
        info = self.critic_update(b)
        if update_actor:
            info.update(self.actor_update(b, bc_batch))
            soft_update(self.actor_t, self.actor, self.cfg.tau)
        soft_update(self.critic_t, self.critic, self.cfg.tau)
        return info

    def state_dict(self) -> dict[str, Any]:
        sd = lambda m: {k: v.detach().clone() for k, v in m.state_dict().items()}  # noqa: E731
        return {"actor": sd(self.actor), "critic": sd(self.critic), "actor_target": sd(self.actor_t),
                "critic_target": sd(self.critic_t), "actor_opt": self.actor_opt.state_dict(),
                "critic_opt": self.critic_opt.state_dict(), "bc_opt": self.bc_opt.state_dict(),
                **({"actor_avg": sd(self.actor_avg)} if self.actor_avg is not None else {})}

    def load_state_dict(self, d: dict[str, Any], path: str | Path) -> None:
        from .policy import _load_state

        require(d, path, {k: dict for k in ("actor", "critic", "actor_target", "critic_target", "actor_opt",
                                             "critic_opt", "bc_opt")})
        _load_state(self.actor, d["actor"], path, "actor")
        _load_state(self.critic, d["critic"], path, "critic")
        _load_state(self.actor_t, d["actor_target"], path, "actor_target")
        _load_state(self.critic_t, d["critic_target"], path, "critic_target")
        for name, opt in (("actor_opt", self.actor_opt), ("critic_opt", self.critic_opt), ("bc_opt", self.bc_opt)):
            try:
                opt.load_state_dict(d[name])
            except (ValueError, KeyError, TypeError, RuntimeError) as exc:
                raise InputError(path, name, f"optimiser state does not match: {exc}") from None
        if self.actor_avg is not None:
            require(d, path, {"actor_avg": dict})
            _load_state(self.actor_avg, d["actor_avg"], path, "actor_avg")


# --------------------------------------------------------------------------- #
# The run


@dataclass
class Scenario:
    """What is trained on: the system's costs, the period and a workload generator.

    Attributes:
        costs: :class:`relmas.costs.SystemCosts`.
        period: T_s in cycles.
        make_workload: ``(seed, jobs) -> Workload``.
        meta: description saved with checkpoints (workload set, QoS, preset, table, system ...);
            a resumed run must have the same meta.
        policy_table: characterisation table of the policy's layers (for the overhead charge).
    """

    costs: Any
    period: float
    make_workload: Callable[[int, int | None], Any]
    meta: dict[str, Any] = field(default_factory=dict)
    policy_table: Path | None = None


@dataclass
class TrainResult:
    """Summary of a finished (or stopped) run."""

    out_dir: Path
    best_val_sla: float
    best_update: int
    updates: int
    episodes: int
    env_steps: int
    wall_s: float
    finished: bool
    history: list[dict[str, Any]]
    cpu_s: float = 0.0


def derived_seeds(seed: int, stream: int, n: int) -> list[int]:
    """``n`` workload seeds >= :data:`SEED_FLOOR` for ``stream`` (0: training, 1: validation) of ``seed``."""
    rng = np.random.default_rng([int(seed), int(stream), 0x5E1A5])
    return [int(s) for s in rng.integers(SEED_FLOOR, 2**31 - 1, size=n)]


#: update statistics, each logged as its mean over the episode's updates
UPDATE_STATS = ("actor_loss", "critic_loss", "bc_loss", "bc_sa_acc", "bc_sa_acc_starts", "bc_sa_ok_acc",
                "bc_sa_ok_acc_starts", "q_mean")
CSV_FIELDS = ["update", "phase", "episode", "env_steps", "episode_reward", "episode_sla", "val_sla", "best_val_sla",
              *UPDATE_STATS, "wall_s", "cpu_s"]


class _Log:
    """CSV + TensorBoard, truncated to ``step`` on resume so a resumed run has no duplicate rows."""

    def __init__(self, out: Path, resume_step: int | None):
        self.csv_path = out / "metrics.csv"
        rows: list[dict[str, str]] = []
        if resume_step is not None and self.csv_path.is_file():
            with open(self.csv_path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if r.get("update") and int(r["update"]) <= resume_step]
        tmp = self.csv_path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, CSV_FIELDS)
            w.writeheader()
            for r in rows:
                w.writerow({k: r.get(k, "") for k in CSV_FIELDS})
        os.replace(tmp, self.csv_path)
        self.rows = rows
        self._fh = open(self.csv_path, "a", newline="")
        self._w = csv.DictWriter(self._fh, CSV_FIELDS)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tb"), purge_step=(resume_step + 1) if resume_step is not None else None)
        except ImportError:  # pragma: no cover - tensorboard is a dependency
            self.tb = None

    def row(self, r: dict[str, Any]) -> None:
        out = {k: ("" if r.get(k) is None else (f"{r[k]:.6g}" if isinstance(r[k], float) else r[k])) for k in CSV_FIELDS}
        self._w.writerow(out)
        self._fh.flush()
        self.rows.append(out)
        if self.tb is not None:
            for k, v in r.items():
                if isinstance(v, (int, float)) and k not in ("update", "episode") and v == v:
                    self.tb.add_scalar(f"train/{k}" if k != "val_sla" else "val/sla_rate", v, int(r["update"]))
            self.tb.flush()

    def close(self) -> None:
        self._fh.close()
        if self.tb is not None:
            self.tb.close()


def _overhead_cost(cfg: TrainConfig, scen: Scenario) -> DecisionCost | None:
    from .policy import policy_decision_cost

    if cfg.charge_overhead == "off":
        return None
    table = scen.policy_table
    try:
        if table is None:
            raise InputError("policy table", "", "no policy characterisation table given")
        return policy_decision_cost(table, cfg.hidden, scen.costs.num_sas)
    except InputError:
        if cfg.charge_overhead == "on":
            raise
        return None


def evaluate(actor: Actor, spec: EncoderSpec, scen: Scenario, seeds: list[int], jobs: int | None,
             decision_cost: DecisionCost | None) -> list[Any]:
    """Run the deterministic policy on the workloads of ``seeds``; returns their EpisodeResults."""
    from .sim.simulator import Simulator

    sched = RelmasScheduler(actor, spec=spec, costs=scen.costs, charge_overhead=decision_cost is not None,
                            decision_cost=decision_cost)
    sim = Simulator(scen.costs, scen.period)
    return [sim.run(scen.make_workload(s, jobs), sched, seed=s) for s in seeds]


#: Settings that may change between a run and its resumption (they do not change what is learnt).
RESUMABLE_KEYS = ("max_minutes", "budget_clock", "checkpoint_every_s", "threads", "label_workers")


#: Run metadata named first, in words, when a run folder holds another run.
SCENARIO_KEYS = {"scenario.workload": "the workload set", "scenario.qos": "the QoS level", "seed": "the training seed"}


def _meta_mismatch(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    def norm(m: dict[str, Any]) -> dict[str, Any]:
        m = dict(m)
        if isinstance(m.get("config"), dict):
            # a setting added after the checkpoint was written counts as its default value there
            cfg = {**TrainConfig().to_dict(), **m["config"]}
            m["config"] = {k: v for k, v in cfg.items() if k not in RESUMABLE_KEYS}
        return m

    a, b = norm(a), norm(b)
    # the scenario first: another workload set also has another period, encoder and workload_config, and
    # "the workload set differs" says what happened where "period: ..." does not
    for k, words in SCENARIO_KEYS.items():
        if a.get(k) != b.get(k):
            return f"{words} differs: checkpoint has {a.get(k)!r}, this run has {b.get(k)!r}"
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
                for kk in sorted(set(a[k]) | set(b[k])):
                    if a[k].get(kk) != b[k].get(kk):
                        return f"{k}.{kk}: checkpoint has {a[k].get(kk)!r}, this run has {b[k].get(kk)!r}"
            return f"{k}: checkpoint has {a.get(k)!r}, this run has {b.get(k)!r}"
    return None


#: Files of a run folder, as :func:`train` writes them.
RUN_FILES = ("last.pt", "best.pt", "metrics.csv", "learning_curve.png", "tb")


def set_run_aside(out: Path) -> Path:
    """Move the files of a run (:data:`RUN_FILES`) from its folder into ``out/replaced/<UTC time>/``
    and return that folder; other files stay. Nothing is deleted: a long run replaced by mistake
    (e.g. another preset's workflow on the same ``outputs/``) can be moved back."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = out / "replaced" / stamp
    n = 1
    while dest.exists():
        dest, n = out / "replaced" / f"{stamp}-{n}", n + 1
    dest.mkdir(parents=True)
    for name in RUN_FILES:
        if (out / name).exists():
            os.replace(out / name, dest / name)
    return dest


def train(cfg: TrainConfig, scen: Scenario, out_dir: str | Path, seed: int = 0, progress: bool = True,
          stop_after_updates: int | None = None, label_cache: str | Path | None = None,
          restart_if_changed: bool = False) -> TrainResult:
    """Train (or resume) a RELMAS policy into ``out_dir``.

    Files written (all atomically): ``last.pt`` (full state: networks, optimisers,
    replay buffer, RNG states, counters; resumed from when present), ``best.pt``
    (the policy with the best validation SLA rate so far; what ``relmas simulate
    --policy`` loads), ``metrics.csv`` and ``tb/`` (TensorBoard) with one row per
    episode, ``learning_curve.png`` at the end.

    Args:
        cfg: hyperparameters.
        scen: scenario.
        out_dir: run folder.
        seed: seeds torch, the noise and sampling stream, and the workload seeds.
        progress: show a progress bar on stderr.
        stop_after_updates: stop (with a checkpoint) once this many updates are done; for tests.
        label_cache: folder of the expert-episode cache (:func:`relmas.labels.expert_episodes`;
            None: no cache, the expert episodes are computed on every run and resumption).
        restart_if_changed: when ``out_dir`` holds a run with other settings, move its files aside
            (:func:`set_run_aside`) and start over instead of raising :class:`InputError` (the workflow's
            choice: it reruns a training job only when its settings changed).
    """
    from tqdm import tqdm

    from .scheduler import get_scheduler
    from .sim.simulator import Simulator

    # the expert is checked before anything is written, so a bad setting leaves no output behind
    try:
        expert = get_scheduler(cfg.imitate, **cfg.imitate_args) if cfg.imitate else None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError("config (train)", "imitate", f"cannot make expert '{cfg.imitate}': {exc}") from None
    if cfg.dagger_seed_learner and not hasattr(expert, "search"):
        raise InputError("config (train)", "dagger_seed_learner", f"needs a MAGMA expert (magma, magma-seeded, "
                         f"magma-multiseed) to search from the learner's decision; imitate is '{cfg.imitate}'")
    if cfg.dagger_seed_learner and expert.free_slots < 1:
        raise InputError("config (train)", "imitate_args.population", f"{cfg.imitate}'s population "
                         f"({expert.population}) has no room for the learner's decision after its "
                         f"{expert.population - expert.free_slots} seeded individuals (dagger_seed_learner)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(cfg.threads))
    spec = EncoderSpec.from_costs(scen.costs)
    M = spec.num_sas
    run_meta = {"seed": int(seed), "config": cfg.to_dict(), "encoder": spec.to_dict(), "period": float(scen.period),
                **{f"scenario.{k}": v for k, v in scen.meta.items()}}

    torch.manual_seed(seed)
    learner = Learner(spec, cfg)
    buf = ReplayBuffer(cfg.buffer_size, spec.num_features, spec.num_outputs)
    rng = np.random.default_rng([int(seed), 2])
    st = {"episode": 0, "env_steps": 0, "bc_updates": 0, "warm_updates": 0, "rl_updates": 0, "wall_s": 0.0, "cpu_s": 0.0,
          "best_val": -1.0, "best_update": -1, "last_val": -1, "finished": False, "imit_episode": 0}

    last = out / "last.pt"
    resume_step = None
    best_saved: dict[str, Any] | None = None  # best.pt's content, also kept in last.pt
    ck: dict[str, Any] | None = None
    if last.is_file():
        try:
            ck = load_checkpoint(last, formats=(TRAIN_FORMAT,))
            require(ck, last, {"meta": dict, "learner": dict, "state": dict, "buffer": dict, "rng": dict})
        except InputError as exc:
            if not restart_if_changed:
                raise InputError(last, exc.field, f"{exc.message}. To start the run over, delete {last} or pass "
                                 "--restart-if-changed (which moves the run's files to "
                                 f"{out / 'replaced'}/<time>/)") from None
            aside = set_run_aside(out)
            print(f"relmas train: {last} is unreadable ({exc.message}); moved the run's files to {aside} and "
                  "starting over", file=sys.stderr)
            ck = None
        why = _meta_mismatch(ck["meta"], run_meta) if ck is not None else None
        if why and not restart_if_changed:
            raise InputError(last, "meta", f"holds a run with other settings ({why}); use another output folder "
                             "or delete it to start over")
        if why:
            aside = set_run_aside(out)
            # always said (the workflow runs with --no-progress and keeps stderr in its log)
            print(f"relmas train: {last} held a run with other settings ({why}); moved it to {aside} and "
                  "starting over", file=sys.stderr)
            ck = None
    if ck is not None:
        learner.load_state_dict(ck["learner"], last)
        try:
            buf.load_state_dict(ck["buffer"])
        except (KeyError, ValueError, TypeError) as exc:
            raise InputError(last, "buffer", f"replay buffer is malformed: {exc}") from None
        st.update(ck["state"])
        best_policy = ck.get("best_policy")
        if isinstance(best_policy, dict):
            best_saved = best_policy
            if not (out / "best.pt").is_file():
                # e.g. a workflow manager deleted the interrupted job's declared output: restore it
                save_checkpoint(out / "best.pt", best_policy)
        try:
            torch.set_rng_state(ck["rng"]["torch"])
            rng.bit_generator.state = ck["rng"]["numpy"]
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise InputError(last, "rng", f"random-generator state is malformed: {exc}") from None
        resume_step = st["bc_updates"] + st["warm_updates"] + st["rl_updates"]
        used = st.get("cpu_s", 0.0) if cfg.budget_clock == "cpu" else st["wall_s"]
        time_up = cfg.max_minutes is not None and used >= 60.0 * cfg.max_minutes
        if st["finished"] or time_up:
            if progress:
                why = "is already complete" if st["finished"] else \
                    f"reached its time limit ({cfg.max_minutes} min; raise train.max_minutes to continue)"
                print(f"relmas train: {out} {why} (best validation SLA {st['best_val']:.3f} "
                      f"at update {st['best_update']})", file=sys.stderr)
            return TrainResult(out, st["best_val"], st["best_update"], resume_step, st["episode"], st["env_steps"],
                               st["wall_s"], bool(st["finished"]), [], float(st.get("cpu_s", 0.0)))
    log = _Log(out, resume_step)

    decision_cost = _overhead_cost(cfg, scen)
    if decision_cost is None and cfg.charge_overhead == "auto":  # said even without progress (the workflow's logs)
        print(f"relmas train: no policy characterisation for h = {cfg.hidden} in {scen.policy_table}; training "
              "without the decision-overhead charge", file=sys.stderr)
    ov_sa = RelmasScheduler.policy_sa(scen.costs) if decision_cost is not None else None
    val_seeds = derived_seeds(seed, 1, cfg.val_seeds)
    train_seed_rng = np.random.default_rng([int(seed), 0, 0x5E1A5])
    # skip the seeds of the episodes already done, so a resumed run draws the same ones
    _ = train_seed_rng.integers(SEED_FLOOR, 2**31 - 1, size=st["episode"])
    sim = Simulator(scen.costs, scen.period)
    t_start = time.perf_counter() - st["wall_s"]
    c_start = _cpu_seconds() - st.get("cpu_s", 0.0)
    last_ckpt = time.perf_counter()
    total = cfg.total_updates
    bar = tqdm(total=total, initial=resume_step or 0, desc="train", unit="upd", disable=not progress,
               dynamic_ncols=True, file=sys.stderr)

    def n_updates() -> int:
        return st["bc_updates"] + st["warm_updates"] + st["rl_updates"]

    def phase() -> str:
        if st["bc_updates"] < cfg.imitation_updates:
            return "imitation"
        if st["warm_updates"] < cfg.critic_warmup_updates:
            return "critic-warmup"
        return "rl" if st["rl_updates"] < cfg.rl_updates else "done"

    def checkpoint(finished: bool = False) -> None:
        st["wall_s"] = time.perf_counter() - t_start
        st["cpu_s"] = _cpu_seconds() - c_start
        st["finished"] = finished
        save_checkpoint(last, {
            "format": TRAIN_FORMAT, "meta": run_meta, "learner": learner.state_dict(), "state": dict(st),
            "buffer": buf.state_dict(), "rng": {"torch": torch.get_rng_state(), "numpy": rng.bit_generator.state},
            "policy": policy_payload(learner.policy, spec, {"update": n_updates(), **scen.meta}),
            **({"best_policy": best_saved} if best_saved is not None else {}),
        })

    def validate() -> float:
        learner.policy.eval()
        res = evaluate(learner.policy, spec, scen, val_seeds, cfg.val_jobs, decision_cost)
        learner.policy.train()
        hits = sum(r.hits for r in res)
        jobs = sum(r.jobs for r in res)
        sla = hits / jobs if jobs else float("nan")
        st["last_val"] = n_updates()
        if sla > st["best_val"]:
            st["best_val"], st["best_update"] = sla, n_updates()
            save_policy_meta = {"update": n_updates(), "val_sla": sla, "phase": phase(), "seed": int(seed),
                                "recipe": cfg.recipe, **scen.meta}
            nonlocal best_saved
            best_saved = policy_payload(learner.policy, spec, save_policy_meta)
            save_checkpoint(out / "best.pt", best_saved)
        return sla

    n_workers = cfg.label_workers or max(1, os.cpu_count() or 1)
    needs_labels = cfg.imitation_updates > 0 or cfg.critic_warmup_updates > 0 or cfg.bc_weight > 0
    n_expert = cfg.expert_episodes if expert is not None and needs_labels else 0
    expert_eps: list[Any] = []  # the opening expert episodes, loaded (or computed) when first needed
    stop = timed_out = False

    def time_is_up() -> bool:
        used = _cpu_seconds() - c_start if cfg.budget_clock == "cpu" else time.perf_counter() - t_start
        return cfg.max_minutes is not None and used >= 60.0 * cfg.max_minutes

    def updates_after_step(stats: list[dict[str, float]]) -> None:
        """The updates due after one environment step, for the current phase."""
        ph = phase()
        if ph == "imitation":
            n = _due(st, "bc_updates", cfg.imitation_updates_per_step)
            lab = buf.labelled()
            for _ in range(min(n, cfg.imitation_updates - st["bc_updates"])):
                if len(lab) == 0:
                    break
                stats.append(learner.bc_update(Batch(buf.sample(rng, cfg.batch_size, lab),
                                                     spec.num_features, spec.num_outputs, False), st["bc_updates"]))
                st["bc_updates"] += 1
                bar.update(1)
        elif ph == "critic-warmup":
            if len(buf) >= min(cfg.learning_starts, cfg.batch_size):
                n = _due(st, "warm_updates", cfg.updates_per_step)
                for _ in range(min(n, cfg.critic_warmup_updates - st["warm_updates"])):
                    b = Batch(buf.sample(rng, cfg.batch_size), spec.num_features, spec.num_outputs)
                    stats.append(learner.ddpg_update(b, update_actor=False))
                    st["warm_updates"] += 1
                    bar.update(1)
        elif ph == "rl" and len(buf) >= cfg.learning_starts:
            n = _due(st, "rl_updates", cfg.updates_per_step)
            lab = buf.labelled() if cfg.bc_weight > 0 and n > 0 else None
            for _ in range(min(n, cfg.rl_updates - st["rl_updates"])):
                b = Batch(buf.sample(rng, cfg.batch_size), spec.num_features, spec.num_outputs)
                bcb = None
                if lab is not None and len(lab):  # TD3+BC on the aggregated expert data
                    bcb = Batch(buf.sample(rng, cfg.batch_size, lab), spec.num_features, spec.num_outputs, False)
                stats.append(learner.ddpg_update(b, bc_batch=bcb))
                st["rl_updates"] += 1
                bar.update(1)

    def add(tr: Transition, stats: list[dict[str, float]]) -> bool:
        """Store one transition and do the updates due; True when the episode must end here."""
        nonlocal stop
        k = cfg.max_seq
        if k is not None:
            if cfg.seq_cover_starts and tr.starts is not None and tr.starts.any():
                k = max(k, int(np.flatnonzero(tr.starts)[-1]) + 1)
            cut = lambda v: None if v is None else v[:k]  # noqa: E731
            tr = Transition(tr.x[:k + 1], tr.a[:k], tr.r, tr.x2[:k + 1], tr.done, cut(tr.prio), cut(tr.sa),
                            cut(tr.starts), cut(tr.sa_ok))
        buf.add(tr)
        st["env_steps"] += 1
        updates_after_step(stats)
        if stop_after_updates is not None and n_updates() >= stop_after_updates:
            stop = True
            return True
        return phase() == "done" or time_is_up()  # every update done, or out of time: the episode is cut short

    def from_expert(seeds: list[int]) -> Any:
        from .labels import expert_episodes

        res = expert_episodes(scen, spec, str(cfg.imitate), cfg.imitate_args, seeds, episode_jobs=cfg.episode_jobs,
                              decision_cost=decision_cost, reward=cfg.reward, workers=n_workers,
                              cache_dir=label_cache, sa_tolerance=cfg.bc_sa_tolerance)
        if progress and len(seeds) > 1:
            print(f"relmas train: {len(seeds)} expert episodes ({cfg.imitate}): {res.computed} computed, "
                  f"{res.loaded} from the cache" + (f" {label_cache}" if label_cache is not None else ""),
                  file=sys.stderr)
        return res

    try:
        if resume_step is None:
            v = validate()  # the untrained (random) actor: the curve's first point
            log.row({"update": 0, "phase": "init", "episode": 0, "env_steps": 0, "val_sla": v,
                     "best_val_sla": st["best_val"], "wall_s": 0.0, "cpu_s": 0.0})
            checkpoint()
        while not stop and phase() != "done":
            wl_seed = int(train_seed_rng.integers(SEED_FLOOR, 2**31 - 1))
            ph0 = phase()
            ep_reward, stats = 0.0, []
            ep_sla: float | None = None
            if st["episode"] < n_expert or (expert is not None and ph0 == "imitation" and not cfg.dagger):
                # expert-driven episode: computed in the label pool, or loaded from the cache
                if st["episode"] < n_expert:
                    if not expert_eps:
                        expert_eps.append(from_expert(derived_seeds(seed, 0, n_expert)))
                    res, i = expert_eps[0], st["episode"]
                else:
                    res, i = from_expert([wl_seed]), 0
                trs = res.episodes[i]
                complete = True
                for j, tr in enumerate(trs):
                    ep_reward += tr.r
                    if add(tr, stats):
                        complete = j == len(trs) - 1
                        break
                if complete:
                    ep_sla = res.sla[i]
            else:
                # learner-driven: a DAgger round while imitating (labelled afterwards, in the pool), else DDPG
                dagger_round = expert is not None and ph0 == "imitation"
                sim.reset(scen.make_workload(wl_seed, cfg.episode_jobs))
                pending: list[Transition] = []
                visited: list[Any] = []
                decisions: list[tuple[np.ndarray, np.ndarray]] = []
                rq = sim.observe()
                while rq is not None:
                    if decision_cost is not None and rq.size:
                        sim.charge_overhead(ov_sa, *decision_cost.of(rq.size + 1))
                    x, order = encode(rq, spec)
                    if dagger_round:
                        visited.append(copy.deepcopy(rq))
                    with torch.no_grad():
                        # a DAgger round visits the states of the policy that will be deployed
                        pol = learner.policy if dagger_round else learner.actor
                        a = pol(torch.from_numpy(x)[None])[0, 1:].numpy()
                    if not dagger_round and phase() == "rl":
                        a = np.clip(a + rng.normal(0.0, cfg.exploration_noise, size=a.shape), -1.0, 1.0)
                    a = a.astype(np.float32)
                    prio, sa = decode(a, order, rq.size)
                    if dagger_round and cfg.dagger_seed_learner:
                        decisions.append((np.array(prio, np.float64), np.array(sa, np.int64)))
                    info = sim.step(prio, sa, simulate_out=True, residual_queue=True)
                    r = step_reward(info, cfg.reward)
                    x2, _ = encode(info.residual_rq, spec)
                    tr = Transition(x, a, r, x2, bool(info.done))
                    if dagger_round:
                        pending.append(tr)
                        if time_is_up():
                            pending = []  # out of time: the round is dropped unlabelled
                            break
                    else:
                        ep_reward += r
                        if add(tr, stats):
                            break
                    rq = sim.observe()
                complete = sim.done
                if dagger_round and pending:
                    from .labels import label_queues

                    labels = label_queues(visited, spec, str(cfg.imitate), cfg.imitate_args, wl_seed, n_workers,
                                          cfg.bc_sa_tolerance, decisions if cfg.dagger_seed_learner else None)
                    for j, (tr, (p, s, b, o)) in enumerate(zip(pending, labels)):
                        tr.prio, tr.sa, tr.starts, tr.sa_ok = p, s, b, o
                        ep_reward += tr.r
                        if add(tr, stats):
                            complete = j == len(pending) - 1
                            break
                if complete:
                    ep_sla = sim.result().sla_rate
            if stop:
                break  # like a kill: nothing after the last checkpoint is kept
            st["episode"] += 1
            if ph0 in ("imitation", "critic-warmup"):
                st["imit_episode"] += 1
            row: dict[str, Any] = {"update": n_updates(), "phase": ph0, "episode": st["episode"],
                                   "env_steps": st["env_steps"], "episode_reward": ep_reward,
                                   "episode_sla": ep_sla}
            for key in UPDATE_STATS:
                vals = [s[key] for s in stats if key in s]
                row[key] = float(np.mean(vals)) if vals else None
            done_now = phase() == "done"
            time_up = not done_now and time_is_up()
            if n_updates() - st["last_val"] >= cfg.val_every or done_now or time_up or (
                    ph0 == "imitation" and phase() != "imitation"):
                row["val_sla"] = validate()
            row["best_val_sla"] = st["best_val"]
            row["wall_s"] = time.perf_counter() - t_start
            row["cpu_s"] = _cpu_seconds() - c_start
            log.row(row)
            bar.set_postfix(phase=phase(), val=f"{st['best_val']:.3f}")
            if time_up:
                if progress:
                    print(f"\nrelmas train: stopping at the time limit of {cfg.max_minutes} min", file=sys.stderr)
                checkpoint()
                timed_out = True
                break
            if done_now:
                checkpoint(finished=True)
            elif time.perf_counter() - last_ckpt >= cfg.checkpoint_every_s:
                checkpoint()
                last_ckpt = time.perf_counter()
    finally:
        bar.close()
        log.close()
    if st.get("finished") or timed_out:
        _plot(out)
    return TrainResult(out, st["best_val"], st["best_update"], n_updates(), st["episode"], st["env_steps"],
                       time.perf_counter() - t_start, bool(st.get("finished")), log.rows, _cpu_seconds() - c_start)


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (the label pools, shut down after each use)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _due(st: dict[str, Any], key: str, per_step: float) -> int:
    """Updates due after one environment step at ``per_step`` updates per step (fractional rates accumulate)."""
    acc = st.get(f"_acc_{key}", 0.0) + per_step
    n = int(math.floor(acc))
    st[f"_acc_{key}"] = acc - n
    return n


def _plot(out: Path) -> None:
    """``learning_curve.png`` from ``metrics.csv``: validation SLA and episode reward against updates."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        return
    with open(out / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    val = [(int(r["update"]), float(r["val_sla"])) for r in rows if r.get("val_sla")]
    rew = [(int(r["update"]), float(r["episode_reward"])) for r in rows if r.get("episode_reward")]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    if val:
        ax[0].plot(*zip(*val), marker="o")
    ax[0].set_xlabel("update")
    ax[0].set_ylabel("validation SLA rate")
    if rew:
        ax[1].plot(*zip(*rew))
    ax[1].set_xlabel("update")
    ax[1].set_ylabel("episode reward")
    fig.tight_layout()
    from .io import atomic_path

    with atomic_path(out / "learning_curve.png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
