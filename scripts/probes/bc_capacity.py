"""Probe: how well can the actor fit its expert's SA labels, on states it was not trained on?

    python scripts/probes/bc_capacity.py [--hidden H] [--passes P] [--updates U] [--weight-decay W]
                                         [--train-episodes N] [--held-episodes K] [--episodes E]
                                         [--expert X] [--permute-twins]

Light / QoS-Medium, the default config's imitation settings with ``--set imitate=X --set
bc_sa_tolerance=0``: E expert-driven training episodes (training seed 0's first E imitation seeds,
computed in this process the first time, then read from the label cache ``outputs/cache/labels``;
the episodes charge the decision cost of the config's network width whatever ``--hidden`` is, so
every width fits the same labels), behaviour cloning alone (``Learner.bc_update``, batches of the
config's size drawn uniformly from the first N episodes' states, cut at ``max_seq`` SJs as the
training loop stores them), and every 1,000 updates the SA accuracy on the SJs the expert's decision
starts, for the last K episodes' states (held out, whole queues) and a quarter of the training
states: ``exact`` (the expert's SA) and ``accepted`` (any SA of the accepted set,
``relmas.labels.accepted_sas`` at tolerance 0).

``--passes P`` (not the paper's network, a probe only) feeds the LSTM the queue P times in a row and
reads each SJ's output from the last pass, so every SA score can depend on the SJs behind it in the
queue; P = 1 is the paper's actor. ``--permute-twins`` renames SAs of the same class at random in each
training state drawn (features, labels and accepted sets together), a data augmentation.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
import time

import numpy as np
import torch

from relmas.cli.common import scenario
from relmas.cli.train import train_config, training_scenario
from relmas.ddpg import Batch, Learner, Transition, _overhead_cost, derived_seeds
from relmas.labels import expert_episodes
from relmas.policy import Actor, EncoderSpec


class MultiPassActor(Actor):
    """The paper's actor, with the queue read ``passes`` times and the outputs of the last pass."""

    def __init__(self, num_features: int, num_outputs: int, hidden: int, passes: int):
        super().__init__(num_features, num_outputs, hidden)
        self.passes = passes

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if self.passes == 1:
            return super().forward(x, lengths)
        B, T, _ = x.shape
        P = self.passes
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long)
        n = lengths[:, None]
        t = torch.arange(P * T)[None, :]
        src = torch.where(t < P * n, t % n, torch.zeros_like(t))
        y, _ = self.lstm(torch.gather(x, 1, src[..., None].expand(-1, -1, x.shape[2])))
        last = ((P - 1) * n + torch.arange(T)[None, :]).clamp(max=P * T - 1)
        out = self.head(torch.gather(y, 1, last[..., None].expand(-1, -1, y.shape[2])))
        return out * (torch.arange(T)[None, :] < n).unsqueeze(-1)


def twin_permutations(sa_classes: list[str]) -> list[np.ndarray]:
    """Every permutation of the SA indices that only swaps SAs of the same class (identity first)."""
    import itertools
    groups: dict[str, list[int]] = {}
    for m, c in enumerate(sa_classes):
        groups.setdefault(c, []).append(m)
    perms = []
    for choice in itertools.product(*(itertools.permutations(g) for g in groups.values())):
        p = np.arange(len(sa_classes))
        for g, q in zip(groups.values(), choice):
            p[list(g)] = q
        perms.append(p)
    return perms


def permuted(t: Transition, perm: np.ndarray) -> Transition:
    """``t`` with the SAs renamed: new SA j is old SA perm[j] (features, action, labels, accepted sets)."""
    M = perm.shape[0]
    cols = np.concatenate([np.arange(4), 4 + perm, 4 + M + perm])
    inv = np.argsort(perm)
    ok = None
    if t.sa_ok is not None:
        bits = (t.sa_ok[:, None] >> perm[None, :]) & 1
        ok = (bits << np.arange(M)[None, :]).sum(1).astype(np.int64)
    return Transition(t.x[:, cols], t.a[:, np.concatenate([[0], 1 + perm])], t.r, t.x2[:, cols], t.done, t.prio,
                      None if t.sa is None else inv[t.sa], t.starts, ok)


def sa_accuracy(actor: torch.nn.Module, b: Batch) -> tuple[float, float]:
    """(exact, accepted) SA accuracy over the started SJs of batch ``b``."""
    with torch.no_grad():
        pick = actor(b.x, b.lx)[:, 1:, 1:].argmax(-1)
    started = b.mask & b.starts
    exact = (pick == b.sa)[started].float().mean().item()
    accepted = b.sa_ok.gather(-1, pick[..., None])[..., 0][started].float().mean().item()
    return exact, accepted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--passes", type=int, default=1)
    ap.add_argument("--updates", type=int, default=8000)
    ap.add_argument("--train-episodes", type=int, default=14)
    ap.add_argument("--held-episodes", type=int, default=2)
    ap.add_argument("--episodes", type=int, default=16, help="expert episodes in all; the held-out ones are the last")
    ap.add_argument("--expert", default="magma-multiseed")
    ap.add_argument("--weight-decay", type=float, default=0.0, help="AdamW's decoupled weight decay (0: Adam)")
    ap.add_argument("--permute-twins", action="store_true",
                    help="each training state drawn is given a random renaming of same-class SAs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg, costs = scenario(argparse.Namespace(config="config/config.yaml", preset=None, system=None, table=None,
                                             layers_dir=None))
    # the labels are those of the config's network (its decision cost is charged in the expert's episodes);
    # only the width of the network fitted to them changes
    tc = train_config(cfg, None, [f"imitate={args.expert}", "bc_sa_tolerance=0"])
    # relmas train's own scenario: the expert episodes then have the cache key of training seed 0's
    scen = training_scenario(cfg, costs, "light", "medium", "outputs/tables/policy.csv")
    spec = EncoderSpec.from_costs(costs)
    n_ep = args.episodes
    if args.train_episodes + args.held_episodes > n_ep:
        ap.error("--train-episodes + --held-episodes must not exceed --episodes")
    res = expert_episodes(scen, spec, args.expert, tc.imitate_args, derived_seeds(0, 0, n_ep),
                          episode_jobs=tc.episode_jobs, decision_cost=_overhead_cost(tc, scen), reward=tc.reward,
                          workers=1, cache_dir="outputs/cache/labels", sa_tolerance=0.0)
    k = tc.max_seq

    def cut(t: Transition) -> Transition:
        c = (lambda v: None if v is None else v[:k])
        return Transition(t.x[:k + 1], t.a[:k], t.r, t.x2[:k + 1], t.done, c(t.prio), c(t.sa), c(t.starts), c(t.sa_ok))

    train = [cut(t) if k else t for ep in res.episodes[:args.train_episodes] for t in ep]
    held = [t for ep in res.episodes[n_ep - args.held_episodes:] for t in ep]
    print(f"expert episodes: {res.computed} computed, {res.loaded} from the cache; {len(train)} training states, "
          f"{len(held)} held out", file=sys.stderr)
    # the config's imitation_lr_schedule, if any, spans the probe's updates
    learner = Learner(spec, dataclasses.replace(tc, hidden=args.hidden, imitation_updates=args.updates))
    learner.actor = MultiPassActor(spec.num_features, spec.num_outputs, args.hidden, args.passes)
    learner.actor_t = copy.deepcopy(learner.actor)
    learner.bc_opt = torch.optim.AdamW(learner.actor.parameters(), lr=tc.imitation_lr, weight_decay=args.weight_decay)
    F_, G = spec.num_features, spec.num_outputs
    held_b, train_b = Batch(held, F_, G, False), Batch(train[::4], F_, G, False)
    rng = np.random.default_rng(0)
    perms = twin_permutations(list(costs.sa_classes))
    t0 = time.process_time()
    for u in range(1, args.updates + 1):
        items = [train[i] for i in rng.integers(0, len(train), tc.batch_size)]
        if args.permute_twins:
            items = [permuted(t, perms[j]) for t, j in zip(items, rng.integers(0, len(perms), len(items)))]
        learner.bc_update(Batch(items, F_, G, False), u - 1)
        if u % 1000 == 0:
            he, ha = sa_accuracy(learner.actor, held_b)
            te, ta = sa_accuracy(learner.actor, train_b)
            print(f"passes={args.passes} h={args.hidden} train_episodes={args.train_episodes} update={u} "
                  f"held-out exact={he:.3f} accepted={ha:.3f}  training exact={te:.3f} accepted={ta:.3f}  "
                  f"cpu={time.process_time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
