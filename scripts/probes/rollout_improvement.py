"""Probe: improve a policy's decisions by simulated lookahead (one-step rollout), then try to teach it them.

    python scripts/probes/rollout_improvement.py evaluate POLICY [--blind] [--horizon H] [--alts A] [--seeds LO-HI]
                                                          [--workers W]
    python scripts/probes/rollout_improvement.py collect POLICY DIR [--blind] [--episodes N] [--horizon H] [--alts A]
                                                         [--workers W]
    python scripts/probes/rollout_improvement.py finetune POLICY DIR OUT [--steps S] [--lr LR] [--frac-changed F]
                                                          [--w-change C] [--kl K] [--maxlen L] [--seed S]

Light / QoS-Medium, the policy's decision charge paid throughout. At every decision the policy decides;
the candidates are its decision and, for each SJ that decision starts within the period, the same decision
with that SJ moved to each of its next ``A`` best SAs by the policy's own scores. Each candidate is
simulated ``H`` decisions ahead (each at least one period; empty-queue periods are simulated in between)
on a copy of the simulator, the policy deciding (and paying its charge) after the first; its score is hits
minus misses, over that window, of the jobs that had arrived by the decision (jobs still unresolved at the
window's end do not count). The best candidate is executed (ties: the policy's own). This is a one-step,
truncated form of Bertsekas' rollout algorithm with the policy as its base policy; with the truncation it
has no guarantee of improving on it. The search's own cost is not charged: the simulated system pays one
policy decision per decision.

The copies see the workload's real later arrivals unless ``--blind``, which hides every job that has not
arrived at the decision (the copies still model the system exactly: costs, contention, overhead).

``evaluate`` prints the SLA rate of the policy and of its rollout-improved version per evaluation seed.
``collect`` drives ``N`` training-stream workloads (seeds 2^20 + 500 + k, never evaluated) with the
improved decisions and writes, per decision, the encoded queue, the policy's SAs, the improved SAs, which
SJs start, and for each started SJ the tried SAs (its own and the ``A`` alternatives) whose single move
scores its best (``ok``, a bitmask), to ``DIR/<seed>.npz``. ``finetune`` trains the policy on them (Adam,
one torch thread): cross-entropy of softmax(u / 0.1) towards the improved SA on the started SJs
(``--w-change`` times the weight where it differs from the policy's; with ``--target set``, -log of the
softmax mass on the SJ's ``ok`` set, ``--w-change`` times the weight where the policy's SA is not in it),
``--kl`` times the KL divergence from the original policy's SA distribution on every SJ, and 10 times the
squared change of the priority output (the priorities are kept), over batches of 32 states of which
``--frac-changed`` hold a changed SA within the first ``--maxlen`` SJs (queues are cut there).

Not part of the toolkit: a lookahead decision costs tens to hundreds of policy decisions (it is not a
policy), and the simulator copies use its private state.
"""
from __future__ import annotations

import argparse
import copy
import glob
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from relmas.cli.common import scenario
from relmas.cli.simulate import load_or_generate, period_for
from relmas.policy import RelmasScheduler, act, decode, encode, load_policy, pad_batch, save_policy
from relmas.sim import Simulator

POLICY_TABLE = "outputs/tables/policy.csv"
TRAIN_SEED0 = 2 ** 20 + 500


def _scenario():
    cfg, costs = scenario(argparse.Namespace(config="config/config.yaml", preset=None, system=None, table=None,
                                             layers_dir=None))
    return cfg, costs, period_for(cfg, "light", None)


def fork(sim: Simulator, blind: bool) -> Simulator:
    """A copy of the episode state (costs and workload shared); ``blind`` hides jobs not yet arrived."""
    c = copy.deepcopy(sim, memo={id(sim.costs): sim.costs, id(sim._w): sim._w})
    if blind:  # they arrive after any horizon of interest, so no window counts them
        c._arrival = c._arrival.copy()
        c._arrival[c._next_open:] = 1e18
    return c


def charge(pol: RelmasScheduler, sim: Simulator, rq) -> None:
    """Charge the policy's decision cost to the simulator, as ``Simulator.run`` does."""
    ov = pol.decision_overhead(rq)
    if ov is not None:
        sim.charge_overhead(*ov)


def decide(pol: RelmasScheduler, sim: Simulator, rq):
    """Charge the policy's decision; (priority, SA, SA scores [R, M]) in queue order, and the encoded
    queue with its order (``RelmasScheduler.schedule``'s steps, which do not return the scores)."""
    charge(pol, sim, rq)
    x, order = encode(rq, pol.spec, model_map=pol._map)
    out = act(pol.actor, x)
    prio, sa = decode(out, order, rq.size)
    scores = np.zeros((rq.size, out.shape[1] - 1))
    scores[order] = out[:, 1:]
    return prio, sa, scores, x, order


def rollout(pol: RelmasScheduler, sim: Simulator, prio, sa, horizon: int):
    """Run the decision, then the policy, for ``horizon`` decisions on ``sim``; (score, first StepInfo)."""
    arrived = sim._next_open  # jobs 0..arrived-1 had arrived at the decision

    def count(info) -> int:
        return int((info.hits < arrived).sum()) - int((info.misses < arrived).sum())

    first = info = sim.step(prio, sa, simulate_out=False)
    score = count(info)
    for _ in range(horizon - 1):
        rq = sim.observe()
        if rq is None:
            break
        charge(pol, sim, rq)
        info = sim.step(*pol.schedule(rq), simulate_out=False)
        score += count(info)
    return score, first


def improved_episode(policy: str, seed: int, horizon: int, alts: int, blind: bool, improve: bool,
                     record: bool = False):
    """Drive one workload with the policy (improved by rollout when ``improve``); (SLA rate, records)."""
    torch.set_num_threads(1)
    cfg, costs, period = _scenario()
    pol = RelmasScheduler(policy, costs=costs, charge_overhead=True, policy_table=POLICY_TABLE)
    sim = Simulator(costs, period)
    sim.reset(load_or_generate("light", "medium", seed, cfg, costs, None))
    recs = []
    while (rq := sim.observe()) is not None:
        prio, sa, scores, x, order = decide(pol, sim, rq)
        if improve:
            base, first = rollout(pol, fork(sim, blind), prio, sa, horizon)
            started = np.flatnonzero(~np.isnan(first.start))
            best, best_sa = base, sa
            ok = np.zeros(rq.size, np.int64)  # per started SJ: bitmask of the tried SAs scoring its best
            for i in started:
                tried = {int(sa[i]): base}
                for m in np.argsort(-scores[i], kind="stable")[1:1 + alts]:
                    cand = sa.copy()
                    cand[i] = m
                    s, _ = rollout(pol, fork(sim, blind), prio, cand, horizon)
                    tried[int(m)] = s
                    if s > best:
                        best, best_sa = s, cand
                top = max(tried.values())
                ok[i] = sum(1 << m for m, v in tried.items() if v == top)
            if record:
                st = np.zeros(rq.size, bool)
                st[started] = True
                recs.append((x, best_sa[order], sa[order], st[order], best - base, ok[order]))
            sa = best_sa
        sim.step(prio, sa, simulate_out=False)
    return sim.result().sla_rate, recs


def _evaluate_one(args):
    policy, seed, horizon, alts, blind = args
    t0 = time.process_time()
    plain = improved_episode(policy, seed, horizon, alts, blind, improve=False)[0]
    better = improved_episode(policy, seed, horizon, alts, blind, improve=True)[0]
    return seed, plain, better, time.process_time() - t0


def _collect_one(args):
    policy, seed, horizon, alts, blind, out = args
    rate, recs = improved_episode(policy, seed, horizon, alts, blind, improve=True, record=True)
    xs = [r[0] for r in recs]
    ptr = np.zeros(len(recs) + 1, np.int64)
    ptr[1:] = np.cumsum([len(r[1]) for r in recs])
    tmp = Path(str(out) + ".tmp")  # not matched by finetune's *.npz
    with open(tmp, "wb") as f:
        np.savez(f, x=np.concatenate(xs), target=np.concatenate([r[1] for r in recs]),
                 base=np.concatenate([r[2] for r in recs]), started=np.concatenate([r[3] for r in recs]),
                 gain=np.array([r[4] for r in recs], np.int64), ok=np.concatenate([r[5] for r in recs]), ptr=ptr)
    os.replace(tmp, out)
    return seed, len(recs), int(sum(r[4] > 0 for r in recs)), rate


def finetune(a: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    actor, spec, meta = load_policy(a.policy)
    states = []  # (x [R+1, F], target [R], base [R], started [R], gain, ok [R] or None)
    for f in sorted(glob.glob(os.path.join(a.dir, "*.npz"))):
        with np.load(f) as z:  # read each array once (indexing the NpzFile re-reads it)
            d = {k: z[k] for k in z.files}
        ptr = d["ptr"]
        xo = ptr + np.arange(len(ptr))  # each state's x has one more row (the primer)
        for k in range(len(ptr) - 1):
            s = slice(ptr[k], ptr[k + 1])
            ok = d["ok"][s][:a.maxlen].copy() if a.target == "set" else None
            states.append((d["x"][xo[k]:xo[k + 1]][:a.maxlen + 1].copy(), d["target"][s][:a.maxlen].copy(),
                           d["base"][s][:a.maxlen].copy(), d["started"][s][:a.maxlen].copy(), int(d["gain"][k]), ok))

    def differs(st) -> np.ndarray:
        """Per SJ: the label departs from the policy's SA (set: the policy's SA is not in the best set)."""
        if a.target == "set":
            return st[3] & (((st[5] >> st[2]) & 1) == 0)
        return st[1] != st[2]
    # changed within the cut queue (a move past --maxlen is not seen by the cut state)
    changed = np.array([i for i, st in enumerate(states) if differs(st).any()])
    other = np.array([i for i, st in enumerate(states) if not differs(st).any()])
    if not len(changed) or not len(other):
        sys.exit(f"{a.dir}: needs states with and without a changed SA ({len(changed)} / {len(other)})")
    print(f"{len(states)} states, {len(changed)} with a changed SA", flush=True)
    with torch.no_grad():
        ref = [actor(torch.from_numpy(s[0])[None])[0, 1:].numpy() for s in states]
    actor.train()
    opt = torch.optim.Adam(actor.parameters(), lr=a.lr)
    k = int(round(32 * a.frac_changed))
    M = ref[0].shape[1] - 1
    for step in range(a.steps):
        idx = np.concatenate([rng.choice(changed, k), rng.choice(other, 32 - k)])
        x, lengths = pad_batch([states[i][0] for i in idx], states[idx[0]][0].shape[1])
        T = x.shape[1] - 1
        tgt = np.zeros((32, T), np.int64)
        w = np.zeros((32, T), np.float32)
        valid = np.zeros((32, T), np.float32)
        ref_p = np.zeros((32, T), np.float32)
        ref_u = np.zeros((32, T, M), np.float32)
        okm = np.zeros((32, T, M), bool)
        for b, i in enumerate(idx):
            _, target, base, started, _, ok = states[i]
            n = len(target)
            tgt[b, :n] = target
            w[b, :n] = np.where(differs(states[i]), a.w_change, np.where(started, 1.0, 0.0))
            if ok is not None:
                okm[b, :n] = ((ok[:, None] >> np.arange(M)[None, :]) & 1).astype(bool)
            valid[b, :n] = 1.0
            ref_p[b, :n] = ref[i][:, 0]
            ref_u[b, :n] = ref[i][:, 1:]
        tgt_t, w_t, valid_t = torch.from_numpy(tgt), torch.from_numpy(w), torch.from_numpy(valid)
        out = actor(x, lengths)[:, 1:]
        logp = torch.log_softmax(out[..., 1:] / 0.1, -1)
        if a.target == "set":  # -log of the probability of the best set (non-started SJs weigh 0)
            okt = torch.from_numpy(okm) | (w_t == 0)[..., None]
            nll = -torch.logsumexp(logp.masked_fill(~okt, float("-inf")), -1)
        else:
            nll = -logp.gather(-1, tgt_t[..., None])[..., 0]
        ce = (nll * w_t).sum() / w_t.sum().clamp(min=1e-9)
        lref = torch.log_softmax(torch.from_numpy(ref_u) / 0.1, -1)
        kl = ((lref.exp() * (lref - logp)).sum(-1) * valid_t).sum() / valid_t.sum()
        keep_p = (((out[..., 0] - torch.from_numpy(ref_p)) ** 2) * valid_t).sum() / valid_t.sum()
        loss = ce + a.kl * kl + 10.0 * keep_p
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(actor.parameters(), 1.0)
        opt.step()
        if step % 250 == 0 or step == a.steps - 1:
            print(f"step {step}: ce {ce.item():.4f} kl {kl.item():.4f} priority drift {keep_p.item():.5f}",
                  flush=True)
    actor.eval()
    save_policy(a.out, actor, spec, {**meta, "finetuned_on": str(a.dir)})
    print(f"wrote {a.out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("evaluate", "collect"):
        p = sub.add_parser(name)
        p.add_argument("policy")
        if name == "collect":
            p.add_argument("dir")
            p.add_argument("--episodes", type=int, default=24)
        else:
            p.add_argument("--seeds", default="1005-1008")
        p.add_argument("--horizon", type=int, default=20)
        p.add_argument("--alts", type=int, default=1)
        p.add_argument("--blind", action="store_true")
        p.add_argument("--workers", type=int, default=2)
    p = sub.add_parser("finetune")
    p.add_argument("policy")
    p.add_argument("dir")
    p.add_argument("out")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--frac-changed", type=float, default=0.25)
    p.add_argument("--w-change", type=float, default=4.0)
    p.add_argument("--kl", type=float, default=1.0)
    p.add_argument("--maxlen", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", choices=("best", "set"), default="best",
                   help="best: the executed decision's SA; set: every tried SA scoring the SJ's best (-log mass)")
    a = ap.parse_args()
    if a.cmd == "finetune":
        return finetune(a)
    with ProcessPoolExecutor(a.workers) as ex:
        if a.cmd == "evaluate":
            lo, hi = map(int, a.seeds.split("-"))
            res = list(ex.map(_evaluate_one, [(a.policy, s, a.horizon, a.alts, a.blind) for s in range(lo, hi + 1)]))
            for seed, plain, better, cpu in res:
                print(f"seed {seed}: policy {plain:.3f}  rollout-improved {better:.3f}  ({cpu:.0f} CPU-s)")
            print(f"mean: policy {np.mean([r[1] for r in res]):.3f}  rollout-improved {np.mean([r[2] for r in res]):.3f}"
                  f"  (horizon {a.horizon}, alts {a.alts}, {'blind' if a.blind else 'real arrivals'})")
        else:
            os.makedirs(a.dir, exist_ok=True)
            jobs = [(a.policy, TRAIN_SEED0 + k, a.horizon, a.alts, a.blind, os.path.join(a.dir, f"{TRAIN_SEED0 + k}.npz"))
                    for k in range(a.episodes)]
            for seed, n, changed, rate in ex.map(_collect_one, jobs):
                print(f"workload {seed}: {n} decisions, {changed} changed by the rollout, SLA rate {rate:.3f}",
                      flush=True)


if __name__ == "__main__":
    main()
