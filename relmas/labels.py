"""Expert labels for imitation (``bc-ddpg``): computed in parallel, cached on disk, reused across reruns.

Why: the expert of the ``bc-ddpg`` recipe (``edf-h``, or ``magma-seeded`` with a
genetic search per decision) used to be called live at every environment step,
one decision at a time, in the training process. MAGMA labels cost tens to
hundreds of milliseconds each and dominated the run. Two facts make them cheap
to reuse and easy to parallelise:

* An **expert-driven episode** depends only on the scenario, the workload seed,
  the expert and its settings, the encoder, the decision-overhead charge and
  the reward; not on the learner. :func:`expert_episodes` computes such episodes
  in a process pool and caches each in ``<cache_dir>/<key>/<seed>.npz`` (plain
  numpy arrays, no pickle, written atomically), where ``key`` (:func:`episode_key`)
  is a sha256 of a canonical JSON of everything that determines the episode. A
  rerun (same or other training seed, resumption) loads them instead.
* The **DAgger labels** of the queues the learner visited do depend on the
  learner, but the queues of one episode are independent of one another once
  visited: :func:`label_queues` labels them in the same pool. Before labelling
  queue ``i`` the expert is reset with :func:`label_seed` ``(episode seed, i)``,
  so the labels do not depend on the number of workers. The reset also makes
  a stateful expert forget what it learnt in earlier periods: PREMA-H (alone,
  or as one of ``magma-multiseed``'s seeders) without ``isolated_latency``
  estimates a job's isolated latency when it first sees the job, which for a
  labelled queue is from the layers still queued, not the whole job, so its
  tokens grow faster than in a live run. A ``prema-h`` expert takes
  ``isolated_latency`` in its settings (``imitate_args``) where that matters;
  ``magma-multiseed``'s seeders have no such setting.

The pool uses the ``fork`` start method and reads its task context (scenario,
expert) from a module global set before the pool is made, so the scenario's
closures (its workload generator) need no pickling.
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import math
import multiprocessing as mp
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .io import atomic_path

# Version 4: magma-multiseed opens with six heuristics (was four); its name and arguments are unchanged,
# so labels cached by the earlier version must not be reused.
#: Version of the cached episodes (layout, or an expert that changed under the same name and arguments);
#: part of the key, so a change never reads old files.
CACHE_VERSION = 4

# The task context of the pool's workers (inherited through fork), or of the in-process path.
_CTX: dict[str, Any] = {}


@dataclass
class ExpertEpisodes:
    """Result of :func:`expert_episodes`.

    Attributes:
        episodes: per seed (in the order given), its transitions (untruncated; ``prio``/``sa`` set).
        sla: per seed, the episode's SLA rate under the expert.
        computed: episodes simulated by this call.
        loaded: episodes read from the cache.
        key: the cache key (sha256 hex).
    """

    episodes: list[list[Any]]
    sla: list[float]
    computed: int
    loaded: int
    key: str


# --------------------------------------------------------------------------- #
# Cache key


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    return repr(x)


def episode_key(scen: Any, spec: Any, expert: str, expert_args: dict[str, Any], episode_jobs: int | None,
                decision_cost: Any, reward: Any, sa_tolerance: float | None = None) -> str:
    """The cache key of expert-driven episodes: sha256 of a canonical JSON of what determines them.

    Args:
        scen: :class:`relmas.ddpg.Scenario`: its ``meta``, ``period`` and the content of its
            costs (:meth:`relmas.costs.SystemCosts.digest`: system, table and models, not their paths).
        spec: :class:`relmas.policy.EncoderSpec`.
        expert, expert_args: the expert scheduler's name and keyword arguments.
        episode_jobs: jobs per episode (None: the workload set's).
        decision_cost: :class:`relmas.policy.DecisionCost` charged at every decision, or None.
        reward: :class:`relmas.reward.RewardConfig`.
        sa_tolerance: the tolerance of the accepted-SA labels (:func:`accepted_sas`), or None when
            the episodes carry none (the key then is what it was before the setting existed).
    """
    meta = dict(scen.meta)
    doc = {
        "version": CACHE_VERSION,
        "scenario": meta,
        "costs_sha256": scen.costs.digest(),
        "period": float(scen.period),
        "episode_jobs": None if episode_jobs is None else int(episode_jobs),
        "expert": str(expert),
        "expert_args": dict(expert_args or {}),
        "expert_fingerprint": _expert_fingerprint(expert, expert_args),
        "encoder": spec.to_dict(),
        "decision_cost": None if decision_cost is None else [
            float(decision_cost.fixed_cycles), float(decision_cost.fixed_energy_pj),
            float(decision_cost.step_cycles), float(decision_cost.step_energy_pj)],
        "reward": reward.to_dict() if hasattr(reward, "to_dict") else reward,
    }
    if sa_tolerance is not None:
        doc["sa_tolerance"] = float(sa_tolerance)
        # accepted SAs are judged with the expert's own slack weight (_slack_weight); keys of MAGMA's
        # default 0.4 stay as they were when it was fixed at 0.4, so those cached episodes stay valid
        weight = _slack_weight(_build_expert(expert, expert_args))
        if weight != 0.4:
            doc["sa_slack_weight"] = weight
    text = json.dumps(_jsonable(doc), sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _expert_fingerprint(expert: str, expert_args: dict[str, Any] | None) -> Any:
    """The expert's :meth:`relmas.scheduler.Scheduler.label_fingerprint` (built once, cheaply, to ask)."""
    return _build_expert(expert, expert_args).label_fingerprint()


def _build_expert(expert: str, expert_args: dict[str, Any] | None) -> Any:
    from .scheduler import get_scheduler

    return get_scheduler(expert, **dict(expert_args or {}))


# --------------------------------------------------------------------------- #
# Accepted SAs: the SA choices of a started SJ that cost the expert's decision (almost) nothing


def accepted_sas(rq: Any, priority: np.ndarray, sa: np.ndarray, started: np.ndarray, tolerance: float,
                 slack_weight: float = 0.4) -> np.ndarray:
    """Per SJ, the SAs accepted as its behaviour-cloning target, as a bitmask (bit m: SA m).

    For each SJ that the expert's decision starts within the period, the decision is simulated out
    once per other SA with only that SJ moved there (MAGMA's fitness, :func:`baselines.magma.magma_fitness`:
    queue jobs meeting their deadline + ``slack_weight`` x mean clipped slack; the expert's own weight
    when it is a MAGMA search). An SA is accepted when the move
    loses no queue job and lowers the fitness by at most ``tolerance``. The expert's own SA is always
    accepted; an SJ not started keeps only it (its SA acts only after the next decision, which decides
    it again).

    Why: the expert's SA is one of several equally good choices for many started SJs (another idle SA
    of the same class, or a busy one that frees in time); cross-entropy against the one the expert
    happened to pick spends the student's capacity on arbitrary choices. Measured with
    ``scripts/probes/sa_regret.py`` (docs/relmas.md).

    Args:
        rq: the :class:`relmas.scheduler.ReadyQueue` decided.
        priority, sa: the expert's decision (queue order).
        started: bool [R], the SJs the decision starts within the period (queue order).
        tolerance: largest accepted fitness loss (>= 0).
        slack_weight: weight of the slack term of the fitness (MAGMA's default 0.4).

    Returns:
        int64 [R] bitmasks, queue order.
    """
    from baselines.magma import magma_fitness

    sa = np.asarray(sa, dtype=np.int64)
    ok = np.left_shift(np.int64(1), sa)
    idx = np.flatnonzero(np.asarray(started, dtype=bool))
    M = rq.num_sas
    if M > 62:  # one int64 bitmask per SJ
        raise ValueError(f"accepted SAs are stored as int64 bitmasks: at most 62 SAs, got {M}")
    if idx.size == 0 or M < 2:
        return ok
    cand = np.repeat(sa[None], 1 + idx.size * M, axis=0)
    for k, i in enumerate(idx):
        cand[1 + k * M:1 + (k + 1) * M, i] = np.arange(M)
    prio = np.repeat(np.asarray(priority, dtype=np.float64)[None], cand.shape[0], axis=0)
    fit, hits = magma_fitness(rq, prio, cand, slack_weight)
    good = (hits[1:] >= hits[0]) & (fit[1:] >= fit[0] - float(tolerance))
    good = good.reshape(idx.size, M)
    ok[idx] |= (good.astype(np.int64) << np.arange(M, dtype=np.int64)[None]).sum(axis=1)
    return ok


def _slack_weight(expert: Any) -> float:
    """The slack weight of the expert's fitness when it is a MAGMA search, else MAGMA's default."""
    return float(getattr(expert, "slack_weight", 0.4))


# --------------------------------------------------------------------------- #
# One expert-driven episode, and its file


def _run_episode(seed: int) -> dict[str, np.ndarray]:
    """Simulate one expert-driven episode of the context's scenario; flat arrays (the cache layout)."""
    from .ddpg import expert_action, expert_targets
    from .policy import encode
    from .reward import step_reward
    from .scheduler import decide, get_scheduler
    from .sim.simulator import Simulator

    c = _CTX
    scen, spec, decision_cost, ov_sa = c["scen"], c["spec"], c["decision_cost"], c["ov_sa"]
    expert = get_scheduler(c["expert"], **c["expert_args"])
    sim = Simulator(scen.costs, scen.period)
    sim.reset(scen.make_workload(int(seed), c["episode_jobs"]))
    expert.reset(int(seed))
    tol = c.get("sa_tolerance")
    xs, x2s, acts, rs, dones, prios, sas, starts, oks = [], [], [], [], [], [], [], [], []
    rq = sim.observe()
    while rq is not None:
        if decision_cost is not None and rq.size:
            sim.charge_overhead(ov_sa, *decision_cost.of(rq.size + 1))
        x, order = encode(rq, spec)
        prio, sa = decide(expert, rq)
        pt, st = expert_targets(prio, sa, order)
        a = expert_action(pt, st, spec.num_sas)
        info = sim.step(prio, sa, simulate_out=True, residual_queue=True)
        r = step_reward(info, c["reward"])
        x2, _ = encode(info.residual_rq, spec)
        xs.append(x), x2s.append(x2), acts.append(a), rs.append(r), dones.append(bool(info.done))
        started = ~np.isnan(info.start)
        prios.append(pt), sas.append(st), starts.append(started[order])
        if tol is not None:
            oks.append(accepted_sas(rq, prio, sa, started, tol, _slack_weight(expert))[order])
        rq = sim.observe()
    F_, G = spec.num_features, spec.num_outputs
    cat = lambda arrs, shape, dt: np.concatenate(arrs).astype(dt) if arrs else np.zeros(shape, dt)  # noqa: E731
    d = {
        "len_x": np.array([x.shape[0] for x in xs], np.int64),
        "len_x2": np.array([x.shape[0] for x in x2s], np.int64),
        "x": cat(xs, (0, F_), np.float32), "x2": cat(x2s, (0, F_), np.float32),
        "a": cat(acts, (0, G), np.float32), "r": np.array(rs, np.float64), "done": np.array(dones, np.bool_),
        "prio": cat(prios, (0,), np.float32), "sa": cat(sas, (0,), np.int64),
        "starts": cat(starts, (0,), np.bool_), "sla": np.array(sim.result().sla_rate, np.float64),
    }
    if tol is not None:
        d["sa_ok"] = cat(oks, (0,), np.int64)
    return d


def _unpack(d: dict[str, np.ndarray], F_: int, G: int) -> list[Any]:
    """Transitions of the flat arrays of one episode; ValueError when they are inconsistent."""
    from .ddpg import Transition

    lx, lx2 = d["len_x"].astype(np.int64), d["len_x2"].astype(np.int64)
    n = lx.shape[0]
    if lx2.shape[0] != n or d["r"].shape[0] != n or d["done"].shape[0] != n or (n and lx.min() < 1):
        raise ValueError("episode arrays disagree in length")
    ox = np.concatenate([[0], np.cumsum(lx)])
    ox2 = np.concatenate([[0], np.cumsum(lx2)])
    oa = np.concatenate([[0], np.cumsum(lx - 1)])
    x, x2, a, prio, sa, starts = d["x"], d["x2"], d["a"], d["prio"], d["sa"], d["starts"]
    ok = d.get("sa_ok")
    if (x.shape != (ox[-1], F_) or x2.shape != (ox2[-1], F_) or a.shape != (oa[-1], G)
            or prio.shape != (oa[-1],) or sa.shape != (oa[-1],) or starts.shape != (oa[-1],)
            or d["sla"].shape != () or (ok is not None and ok.shape != (oa[-1],))):
        raise ValueError("episode arrays have the wrong shapes")
    return [Transition(x[ox[i]:ox[i + 1]].copy(), a[oa[i]:oa[i + 1]].copy(), float(d["r"][i]),
                       x2[ox2[i]:ox2[i + 1]].copy(), bool(d["done"][i]), prio[oa[i]:oa[i + 1]].copy(),
                       sa[oa[i]:oa[i + 1]].copy(), starts[oa[i]:oa[i + 1]].astype(bool),
                       None if ok is None else ok[oa[i]:oa[i + 1]].astype(np.int64)) for i in range(n)]


_FIELDS = ("len_x", "len_x2", "x", "x2", "a", "r", "done", "prio", "sa", "starts", "sla")


def _load(path: Path, F_: int, G: int, with_ok: bool = False) -> tuple[list[Any], float] | None:
    """The cached episode at ``path``; None when missing, unreadable or malformed."""
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in _FIELDS + (("sa_ok",) if with_ok else ())}
        return _unpack(d, F_, G), float(d["sla"])
    except Exception:  # noqa: BLE001 - any unreadable or malformed file is recomputed
        return None


def _save(path: Path, d: dict[str, np.ndarray]) -> None:
    """Write ``d`` to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **d)


# --------------------------------------------------------------------------- #
# Pool


def _map(fn: Any, items: Sequence[Any], workers: int, ctx: dict[str, Any]) -> list[Any]:
    """``[fn(i) for i in items]`` with ``_CTX = ctx``, in ``workers`` forked processes (1: in-process)."""
    global _CTX
    prev = _CTX
    _CTX = ctx
    try:
        workers = max(1, min(int(workers), len(items)))
        if workers == 1:
            return [fn(i) for i in items]
        chunk = max(1, math.ceil(len(items) / (4 * workers)))
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as ex:
            return list(ex.map(fn, items, chunksize=chunk))
    finally:
        _CTX = prev


def expert_episodes(scen: Any, spec: Any, expert: str, expert_args: dict[str, Any], seeds: Iterable[int], *,
                    episode_jobs: int | None, decision_cost: Any, reward: Any, workers: int = 1,
                    cache_dir: str | Path | None = None, sa_tolerance: float | None = None) -> ExpertEpisodes:
    """Expert-driven episodes of the imitation phase, one per workload seed, from the cache or computed.

    Each step is exactly what the training loop's expert-driven episodes did: the policy's decision
    cost charged (``sim.charge_overhead``) when ``decision_cost`` is given, the RQ encoded, the expert's
    decision taken (the expert is ``reset(seed)`` before the episode), ``sim.step(prio, sa,
    simulate_out=True, residual_queue=True)``, :func:`relmas.reward.step_reward`, and the residual
    RQ encoded as s'. The transitions hold a = ``expert_action`` of the labels, the labels, and ``starts``
    (the SJs the expert's decision started in the period).

    Args:
        scen: :class:`relmas.ddpg.Scenario`.
        spec: :class:`relmas.policy.EncoderSpec` of ``scen.costs``.
        expert, expert_args: expert scheduler name (see :func:`relmas.scheduler.get_scheduler`) and arguments.
        seeds: workload seeds (the expert is reset with the same seed).
        episode_jobs: jobs per episode (None: the workload set's).
        decision_cost: decision-overhead charge (:class:`relmas.policy.DecisionCost`) or None.
        reward: :class:`relmas.reward.RewardConfig`.
        workers: processes computing missing episodes (1: in this process, no pool).
        cache_dir: cache root (None: no cache); episodes go to ``<cache_dir>/<key>/<seed>.npz``.
            An unreadable or malformed file is recomputed and overwritten.
        sa_tolerance: when set, the transitions also carry ``sa_ok``, the accepted SAs of
            :func:`accepted_sas` with this tolerance.
    """
    from .policy import RelmasScheduler

    seeds = [int(s) for s in seeds]
    key = episode_key(scen, spec, expert, expert_args, episode_jobs, decision_cost, reward, sa_tolerance)
    F_, G = spec.num_features, spec.num_outputs
    folder = None if cache_dir is None else Path(cache_dir) / key
    got: dict[int, tuple[list[Any], float]] = {}
    if folder is not None:
        for s in dict.fromkeys(seeds):
            hit = _load(folder / f"{s}.npz", F_, G, sa_tolerance is not None)
            if hit is not None:
                got[s] = hit
    loaded = len(got)
    todo = [s for s in dict.fromkeys(seeds) if s not in got]
    if todo:
        ctx = {"scen": scen, "spec": spec, "expert": expert, "expert_args": dict(expert_args or {}),
               "episode_jobs": episode_jobs, "decision_cost": decision_cost, "reward": reward,
               "sa_tolerance": sa_tolerance,
               "ov_sa": RelmasScheduler.policy_sa(scen.costs) if decision_cost is not None else None}
        for s, d in zip(todo, _map(_run_episode, todo, workers, ctx)):
            if folder is not None:
                _save(folder / f"{s}.npz", d)
            got[s] = (_unpack(d, F_, G), float(d["sla"]))
    return ExpertEpisodes([got[s][0] for s in seeds], [got[s][1] for s in seeds], len(todo), loaded, key)


# --------------------------------------------------------------------------- #
# DAgger labels of visited queues


def label_seed(episode_seed: int, step: int) -> int:
    """The seed the expert is reset with before labelling step ``step`` of the episode of ``episode_seed``."""
    rng = np.random.default_rng([int(episode_seed), int(step), 0x1ABE1])
    return int(rng.integers(0, 2**31 - 1))


def _label_one(item: tuple[int, Any, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    from .ddpg import expert_targets
    from .policy import encode
    from .scheduler import decide, run_queue

    seed, rq, learner = item
    c = _CTX
    ex = c.get("_expert")
    if ex is None:
        ex = c["_expert"] = _make_expert(c)
    ex.reset(int(seed))
    if learner is None:
        prio, sa = decide(ex, rq)
    else:  # expert iteration: the search starts from the learner's own decision too
        res = ex.search(rq, extra=[learner])
        prio, sa = res.priority, res.sa
    _, order = encode(rq, c["spec"])
    # the SJs the expert's decision would start in this period (the learner's decision was executed)
    res = run_queue(rq, prio, sa, horizon=float(rq.now) + float(rq.period), stop_at_horizon=True)
    started = ~np.isnan(res.start[:rq.size])
    tol = c.get("sa_tolerance")
    ok = None if tol is None else accepted_sas(rq, prio, sa, started, tol, _slack_weight(ex))[order]
    return (*expert_targets(prio, sa, order), started[order], ok)


def _make_expert(c: dict[str, Any]) -> Any:
    from .scheduler import get_scheduler

    return get_scheduler(c["expert"], **c["expert_args"])


def label_queues(queues: Sequence[Any], spec: Any, expert: str, expert_args: dict[str, Any], episode_seed: int,
                 workers: int = 1, sa_tolerance: float | None = None,
                 learner_decisions: Sequence[tuple[np.ndarray, np.ndarray]] | None = None
                 ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]:
    """Expert labels of ready queues visited by the learner, in encoding order.

    Queue ``i`` is labelled by the expert reset with ``label_seed(episode_seed, i)``, so the result
    does not depend on ``workers``.

    Args:
        queues: the visited :class:`relmas.scheduler.ReadyQueue` s (copies taken when visited, with the
            decision overhead already charged), in step order.
        spec: :class:`relmas.policy.EncoderSpec` (for the encoding order).
        expert, expert_args: expert scheduler name and arguments.
        episode_seed: the episode's workload seed.
        workers: processes (1: in this process, no pool).
        sa_tolerance: tolerance of the accepted SAs (:func:`accepted_sas`); None: none computed.
        learner_decisions: per queue, the learner's decision ``(priority, sa)`` (queue order), put into
            the initial population of a MAGMA expert (:meth:`baselines.magma.Magma.search`), so that
            the label is at least as good, by MAGMA's fitness, as what the learner did (expert
            iteration); None: the expert's own search.

    Returns:
        Per queue, in encoding order: the priority targets in [-1, 1] and SA indices of
        :func:`relmas.ddpg.expert_targets`, bool ``starts``: the SJs the expert's decision
        starts within the queue's period (:func:`relmas.scheduler.run_queue` to ``now + period``),
        and the accepted-SA bitmasks (None without ``sa_tolerance``).
    """
    if learner_decisions is not None and len(learner_decisions) != len(queues):
        raise ValueError("learner_decisions must hold one decision per queue")
    items = [(label_seed(episode_seed, i), q, None if learner_decisions is None else learner_decisions[i])
             for i, q in enumerate(queues)]
    ctx = {"spec": spec, "expert": expert, "expert_args": dict(expert_args or {}), "sa_tolerance": sa_tolerance}
    return _map(_label_one, items, workers, ctx)
