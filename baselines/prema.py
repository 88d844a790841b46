"""PREMA-H: PREMA's predictive token mechanism with the earliest-finish SA heuristic.

Source: Y. Choi and M. Rhu, "PREMA: A Predictive Multi-task Scheduling Algorithm
for Preemptible Neural Processing Units", HPCA 2020 (Algorithm 2 and Table II),
as implemented by the reference scheduler ``PREMA_Scheduler`` of
``SamsungLabs/Sparse-Multi-DNN-Scheduling`` (``dysta_scheduler/scheduler.py``),
whose comments map its lines to PREMA's Algorithm 2. RELMAS (DAC 2024) section
5.1 uses it as baseline (2), "a token mechanism based on waiting time and
Shortest-Job-First priority assignment ... combined with the aforementioned
heuristic" because PREMA targets a single (monolithic) NPU.

PREMA's mechanism, as used here:

* Every job has a priority class ``c_j`` in PREMA's levels ``{1, 3, 9}``
  (low / medium / high). Its token starts at ``c_j`` (Alg. 2 line 3) and grows
  by ``c_j`` times its normalised waiting time (Alg. 2 line 7), waiting time
  over the job's estimated isolated latency.
* Threshold (text under PREMA's Table II): the largest level ``<=`` the largest
  token in the queue. Jobs whose token is ``>=`` the threshold are candidates
  (``>=`` as in the reference code; PREMA's ``>`` leaves no candidate at start-up).
* Among candidates, the job of shortest estimated remaining time runs first
  (shortest-job-first), the estimate being the sum of the estimated latencies of
  its layers not yet run.

Adaptations to layer-granular, non-preemptive, multi-SA online scheduling:

* PREMA picks one task whenever the NPU is free. Here the scheduler must rank
  the whole ready queue once per period, so the pick is repeated with the tokens
  frozen at the invocation time: pick a job as above, remove it, recompute the
  threshold from the remaining jobs' largest token, and so on. The resulting job
  order is the priority order; inside a job SJs keep their layer order.
* Granularity is the layer and there is no preemption: PREMA's preemption
  mechanisms (checkpoint / kill / drain) have nothing to act on, since a started
  SJ always runs to completion; the token order only decides which SJ an idle SA
  starts next, which is layer-boundary preemption as in the reference code.
* Waiting time = ``now - a_j``, the time the job has spent in the system waiting
  for the rest of its layers. With decisions every ``T_s`` the accumulated
  increments ``c_j * dt / iso_j`` sum exactly to ``c_j * (now - a_j) / iso_j``, so
  the token does not depend on how often the scheduler runs. (The reference code
  instead adds the *whole* time since a task last executed at every decision,
  which grows with the number of decisions; not reproduced.)
* Isolated latency ``iso_j``: given per model (``isolated_latency``, e.g. from
  :func:`relmas.workload.isolated_latencies`), or, by default, estimated when the
  job is first seen (all its layers are then in the queue) as the critical path
  of its layer DAG with every layer on its fastest SA.
* Remaining-time estimate: the sum over the job's SJs still in the queue of their
  fastest-SA cycles, plus the stall-free work left of its SJs running now
  (PREMA uses per-model latency estimates of the layers not yet run).
* Priority classes: the paper's workloads give jobs no class, and each scenario
  has a single QoS level, so "one class per QoS level" is one class for every
  job of a run. Default ``job_class="same"`` with class 3 (medium). With one
  class the tokens are ``c (1 + wait / iso)``: everyone is a candidate (pure SJF)
  until some job has waited twice its isolated latency; then only such starved
  jobs are candidates. Class 1 gives the same first promotion point; class 9
  would never promote (every token is >= 9). ``job_class="random"`` draws each
  job's class uniformly from the levels, deterministically from the seed and the
  job index, as the reference code's simulator does.
* The SA of each SJ comes from the shared "-H" heuristic
  (:func:`baselines.sa_heuristic.heuristic_sa`) in PREMA order.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numba import njit

from baselines.sa_heuristic import check_tie_break, heuristic_sa
from relmas.scheduler import ReadyQueue, Scheduler
from relmas.typed_params import checked_params

__all__ = ["PREMA_LEVELS", "PremaH", "prema_job_order", "critical_path_estimate"]

PREMA_LEVELS: tuple[float, ...] = (1.0, 3.0, 9.0)
"""PREMA's priority levels low / medium / high (PREMA Table II; ``PRIORITY_LIST`` in the reference code)."""


@njit(cache=True)
def _critical_path(cycles_min, pred_ptr, pred_idx, run_work, job_pos, n_jobs):
    """Longest path (fastest-SA cycles) per job over the queue's DAG; queue order is topological per job."""
    R = cycles_min.shape[0]
    fin = np.zeros(R)
    out = np.zeros(n_jobs)
    # predecessors inside the queue may come later in the queue order only across jobs,
    # never within one job (layers are in topological order); iterate to a fixpoint anyway.
    for _ in range(R + 1):
        changed = False
        for i in range(R):
            r = 0.0
            for k in range(pred_ptr[i], pred_ptr[i + 1]):
                p = pred_idx[k]
                f = fin[p] if p < R else run_work[p - R]
                if f > r:
                    r = f
            v = r + cycles_min[i]
            if v != fin[i]:
                fin[i] = v
                changed = True
        if not changed:
            break
    for i in range(R):
        j = job_pos[i]
        if fin[i] > out[j]:
            out[j] = fin[i]
    return out


def critical_path_estimate(rq: ReadyQueue) -> np.ndarray:
    """float64 [Jq]: per queue job, the critical path of its queued layers, each on its fastest SA."""
    return _critical_path(np.ascontiguousarray(rq.cycles.min(axis=1)), rq.pred_ptr, rq.pred_idx,
                          rq.run_work, rq.job_pos, len(rq.jobs))


@njit(cache=True)
def _job_order(tokens, remaining, lv):
    J = tokens.shape[0]
    left = np.ones(J, np.bool_)
    out = np.empty(J, np.int64)
    for step in range(J):
        tmax = -np.inf
        for j in range(J):
            if left[j] and tokens[j] > tmax:
                tmax = tokens[j]
        thr = -np.inf
        for v in lv:
            if v <= tmax:
                thr = v
        best = -1
        for j in range(J):
            if left[j] and tokens[j] >= thr and (best < 0 or remaining[j] < remaining[best]):
                best = j
        out[step] = best
        left[best] = False
    return out


def prema_job_order(tokens: np.ndarray, remaining: np.ndarray, levels: Sequence[float] = PREMA_LEVELS) -> np.ndarray:
    """PREMA's repeated selection with frozen tokens: the order in which jobs are picked.

    At each step the threshold is the largest level ``<=`` the largest token of the
    jobs not yet picked (no threshold if every token is below the lowest level);
    the candidates are the jobs whose token is ``>=`` it; the candidate of shortest
    ``remaining`` time is picked (ties: the lower index, i.e. the queue's order).

    Args:
        tokens: float64 [J], each job's token.
        remaining: float64 [J], each job's estimated remaining time.
        levels: the priority levels.

    Returns:
        int64 [J], job indices in pick order.
    """
    tokens = np.ascontiguousarray(tokens, np.float64)
    remaining = np.ascontiguousarray(remaining, np.float64)
    if tokens.shape != remaining.shape or tokens.ndim != 1:
        raise ValueError("tokens and remaining must be 1-D arrays of the same length")
    return _job_order(tokens, remaining, np.sort(np.asarray(levels, np.float64)))


@checked_params
class PremaH(Scheduler):
    """PREMA-H (RELMAS paper section 5.1): PREMA token + SJF job order, earliest-finish SA.

    Args:
        job_class: ``"same"`` (every job gets ``default_class``) or ``"random"`` (uniform over
            ``levels``, drawn from the seed and the job index).
        default_class: the class of every job when ``job_class="same"``.
        levels: PREMA's priority levels (also the thresholds).
        isolated_latency: optional isolated latency per model index (cycles); default: the
            critical-path estimate at the job's first sighting.
        seed: default seed for ``job_class="random"``, used when :meth:`reset` gets none.
        tie_break: the SA heuristic's tie-break, ``"index"`` (default), ``"affinity"`` or ``"fit"``
            (:mod:`baselines.sa_heuristic`).
        tie_tolerance: SAs whose estimated finish is within this fraction of the SJ's fastest
            latency of the earliest count as tied (default 0: exact ties).
    """

    name = "prema-h"

    def __init__(self, job_class: Literal["same", "random"] = "same", default_class: float = 3.0,
                 levels: Sequence[float] = PREMA_LEVELS, isolated_latency: Sequence[float] | None = None,
                 seed: int | None = 0, tie_break: str = "index",
                 tie_tolerance: float = 0.0):
        self.tie_break, self.tie_tolerance = check_tie_break(tie_break, tie_tolerance)
        if job_class not in ("same", "random"):
            raise ValueError(f"job_class must be 'same' or 'random', got {job_class!r}")
        if default_class <= 0:
            raise ValueError("default_class must be > 0")
        self.job_class = job_class
        self.default_class = float(default_class)
        self.levels = tuple(sorted(float(v) for v in levels))
        self.isolated_latency = None if isolated_latency is None else np.asarray(isolated_latency, np.float64)
        self._default_seed = seed
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
        """Forget every job's class and isolated-latency estimate; reseed the class draw."""
        if seed is None:
            seed = self._default_seed if self._default_seed is not None else 0
        self._seed = int(seed)
        self._iso: dict[int, float] = {}
        self._cls: dict[int, float] = {}

    def _job_class(self, job: int) -> float:
        c = self._cls.get(job)
        if c is None:
            if self.job_class == "same":
                c = self.default_class
            else:
                c = float(np.random.default_rng([self._seed, int(job)]).choice(self.levels))
            self._cls[job] = c
        return c

    def tokens(self, rq: ReadyQueue) -> np.ndarray:
        """float64 [Jq], PREMA token of every queue job at ``rq.now``: ``c (1 + (now - a) / iso)``."""
        jobs = rq.jobs
        new = [k for k, j in enumerate(jobs) if int(j) not in self._iso]
        if new:
            if self.isolated_latency is not None:
                job_model = np.zeros(len(jobs), np.int64)
                job_model[rq.job_pos] = rq.model  # every SJ of a job has the job's model
                est = self.isolated_latency[job_model]
            else:
                est = critical_path_estimate(rq)
            for k in new:
                self._iso[int(jobs[k])] = max(float(est[k]), 1.0)
        iso = np.array([self._iso[int(j)] for j in jobs])
        cls = np.array([self._job_class(int(j)) for j in jobs])
        wait = np.maximum(rq.now - rq.job_arrival, 0.0)
        return cls * (1.0 + wait / iso)

    @staticmethod
    def remaining_time(rq: ReadyQueue) -> np.ndarray:
        """float64 [Jq], sum of fastest-SA cycles of each job's queued SJs plus its running work."""
        jobs = rq.jobs
        rem = np.bincount(rq.job_pos, weights=rq.cycles.min(axis=1), minlength=len(jobs))
        running = np.nonzero(rq.run_active & (rq.run_job >= 0))[0]
        for m in running:
            hit = np.nonzero(jobs == rq.run_job[m])[0]
            if hit.size:
                rem[hit[0]] += rq.run_work[m]
        return rem

    def priority(self, rq: ReadyQueue) -> np.ndarray:
        """float64 [R]: ``R - 1`` for the first SJ in PREMA job order (layers in order) down to 0."""
        order = prema_job_order(self.tokens(rq), self.remaining_time(rq), self.levels)
        job_rank = np.empty(order.shape[0], np.int64)
        job_rank[order] = np.arange(order.shape[0])
        sj_order = np.lexsort((np.arange(rq.size), rq.layer, job_rank[rq.job_pos]))
        prio = np.empty(rq.size)
        prio[sj_order] = np.arange(rq.size - 1, -1, -1, dtype=np.float64)
        return prio

    def schedule(self, rq: ReadyQueue) -> tuple[np.ndarray, np.ndarray]:
        """PREMA priorities and the -H SA of every SJ of ``rq``."""
        prio = self.priority(rq)
        return prio, heuristic_sa(rq, prio, self.tie_break, self.tie_tolerance)
