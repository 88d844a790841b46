"""The online episode loop of the contention simulator, and its metrics.

A :class:`Simulator` runs one workload under one scheduler, period by period
(``SPEC.md`` section 3):

1. At ``t = k * T_s`` the jobs that arrived by ``t`` join the ready queue (RQ);
   the unstarted SJs of jobs whose deadline has passed (``d_j <= t``) are dropped.
2. The scheduler sees the RQ and the SA state (:class:`~relmas.scheduler.ReadyQueue`)
   and returns a priority and an SA per SJ. If it declares a decision overhead,
   that many zero-bandwidth cycles are queued on its SA ahead of every RQ SJ
   and its energy is added.
3. The event kernel executes the decision over ``[t, t + T_s)``: SJs start only
   in that window; SJs started run to completion across period boundaries
   (they are carried over as running SJs); unstarted ones form the residual RQ.
4. At ``t + T_s`` every job whose outcome is known is resolved: a hit when all
   its SJs have finished by its deadline, a miss when its deadline has passed
   without that (or its last SJ finished late).

Periods in which nothing runs and the RQ is empty are skipped by jumping to the
period of the next arrival; periods with an empty RQ but running SJs are
simulated without calling the scheduler. The episode ends when every job is
resolved; SJs still running then (of missed jobs) are simulated to completion
for the energy and utilisation figures.

Two ways to drive it: :meth:`Simulator.run` (a whole episode under a
:class:`~relmas.scheduler.Scheduler`), or the step API used by the RL
environment (:meth:`reset`, :meth:`observe`, :meth:`charge_overhead`,
:meth:`step`, :meth:`result`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from relmas.costs import SystemCosts
from relmas.scheduler import (ReadyQueue, Scheduler, SchedulerError, _check_action, _run_queue, check_decision,
                              dataclass_equal, scheduler_failed)
from relmas.workload import Workload

_PENDING, _RUNNING, _DONE, _DROPPED = 0, 1, 2, 3
_PSEUDO = -2  # run_sj value of an SA running decision-overhead work


@njit(cache=True)
def _gather(open_jobs, job_first, job_nl, g_state):
    """Global ids of the pending SJs of the given jobs, job by job, layer by layer."""
    total = 0
    for j in open_jobs:
        total += job_nl[j]
    out = np.empty(total, np.int64)
    k = 0
    for j in open_jobs:
        for g in range(job_first[j], job_first[j] + job_nl[j]):
            if g_state[g] == 0:
                out[k] = g
                k += 1
    return out[:k]


@njit(cache=True)
def _rq_preds(ids, g_state, g_sa, g_finish, gp_ptr, gp_idx, pos_of, arrival, now, run_rem):
    """Queue-level predecessor CSR (``R + m`` = running on SA m) and pred_done_time."""
    R = ids.shape[0]
    for k in range(R):
        pos_of[ids[k]] = k
    ptr = np.zeros(R + 1, np.int64)
    cnt = 0
    for k in range(R):
        g = ids[k]
        for e in range(gp_ptr[g], gp_ptr[g + 1]):
            if g_state[gp_idx[e]] != 2:
                cnt += 1
        ptr[k + 1] = cnt
    idx = np.empty(cnt, np.int64)
    pdt = np.empty(R)
    c = 0
    for k in range(R):
        g = ids[k]
        d = arrival[k]
        for e in range(gp_ptr[g], gp_ptr[g + 1]):
            p = gp_idx[e]
            s = g_state[p]
            if s == 2:
                if g_finish[p] > d:
                    d = g_finish[p]
            elif s == 1:
                m = g_sa[p]
                idx[c] = R + m
                c += 1
                if now + run_rem[m] > d:
                    d = now + run_rem[m]
            else:
                idx[c] = pos_of[p]
                c += 1
        pdt[k] = d
    return ptr, idx, pdt


@dataclass(eq=False)
class StepInfo:
    """What one scheduling period did (returned by :meth:`Simulator.step`).

    Attributes:
        t: period start (the invocation time).
        rq: the ready queue that was decided.
        priority: float64 [R], the decision's priorities.
        sa: int64 [R], the decision's SAs.
        start: float64 [R], start time of each RQ SJ in this period; NaN if not started.
        finish: float64 [R], finish time if reached by the period's end; NaN otherwise.
        finish_out: float64 [R] or None, finish times with the period's whole schedule
            simulated out (no new arrivals, deadlines respected: NaN = dropped), the
            ``f_l`` of the RELMAS reward; None if not requested.
        residual: int64, RQ positions of SJs not started in this period (residual RQ).
        residual_rq: the residual RQ at the period's end (no new arrivals, SJs of jobs past
            their deadline removed, SA state at ``t + T_s``), or None if not requested.
        hits: int64, jobs resolved as hits from this period's start up to the next decision
            (empty-RQ periods simulated in between included; before the first decision,
            jobs dropped on arrival count in the first step).
        misses: int64, jobs resolved as misses over the same span.
        overhead: the decision overhead charged ``(sa, cycles, energy_pj)``, or None.
        done: every job of the workload is resolved.
    """

    t: float
    rq: ReadyQueue
    priority: np.ndarray
    sa: np.ndarray
    start: np.ndarray
    finish: np.ndarray
    finish_out: np.ndarray | None
    residual: np.ndarray
    residual_rq: ReadyQueue | None
    hits: np.ndarray
    misses: np.ndarray
    overhead: tuple[int, float, float] | None
    done: bool

    def __eq__(self, other: object) -> bool:
        return dataclass_equal(self, other)

    __hash__ = None  # type: ignore[assignment]


@dataclass(eq=False)
class EpisodeResult:
    """Metrics of one episode (``SPEC.md`` section 3).

    Attributes:
        sla_rate: hits / jobs.
        jobs, hits, misses: counts (every job resolved).
        per_model: ``{model: {"jobs", "hits", "sla_rate"}}``.
        utilisation: per SA, busy cycles / makespan.
        busy_cycles: per SA, cycles with something running (decision overhead included).
        makespan: last SJ finish minus first job arrival, in cycles.
        energy_pj: total energy: ``energy_sj_pj + energy_nop_pj + energy_overhead_pj``.
        energy_sj_pj: energy of the executed SJs on their SA (the table's stall-free figure).
        energy_nop_pj: network-on-package energy of the executed SJs' DRAM bytes
            (``dram_bytes * 8 * nop_energy_pj_per_bit``; 0 when the system gives no NoP cost).
        energy_overhead_pj: energy of the scheduler's decisions on the MAS.
        latency_mean, latency_p99: finish - arrival over jobs whose SJs all finished
            (hits and late finishes), in cycles; NaN if none.
        dram_saturated_cycles: cycles with DRAM demand above the bandwidth.
        periods: periods simulated (skipped idle periods excluded).
        decisions: scheduler invocations.
        sched_wall_s_per_decision: mean wall-clock seconds per decision (host time; varies run to run).
        sched_cpu_s_per_decision: mean CPU seconds of this process per decision: the same as the wall
            time on a core of its own, and unaffected by other jobs sharing the cores (the workflow
            runs several evaluations per core), so the report compares decision costs with it.
        job_finish: float64 [J], last SJ finish of each job, NaN unless all its SJs finished.
        job_hit: bool [J].
        meta: scheduler, seed, period, bandwidth, system, workload meta.
    """

    sla_rate: float
    jobs: int
    hits: int
    misses: int
    per_model: dict[str, dict[str, float]]
    utilisation: list[float]
    busy_cycles: list[float]
    makespan: float
    energy_pj: float
    energy_sj_pj: float
    energy_nop_pj: float
    energy_overhead_pj: float
    latency_mean: float
    latency_p99: float
    dram_saturated_cycles: float
    periods: int
    decisions: int
    sched_wall_s_per_decision: float = field(compare=False)  # host timings: not part of equality
    sched_cpu_s_per_decision: float = field(compare=False)
    job_finish: np.ndarray = field(repr=False)
    job_hit: np.ndarray = field(repr=False)
    meta: dict[str, Any] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        return dataclass_equal(self, other)

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self, include_jobs: bool = False) -> dict[str, Any]:
        """JSON-able dict (NaN becomes None); per-job arrays only with ``include_jobs``."""

        def clean(x: Any) -> Any:
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, (list, tuple)):
                return [clean(v) for v in x]
            if isinstance(x, np.ndarray):
                return clean(x.tolist())
            if isinstance(x, (np.floating, float)):
                return None if math.isnan(x) else float(x)
            if isinstance(x, (np.integer,)):
                return int(x)
            if isinstance(x, np.bool_):
                return bool(x)
            return x

        d = {k: getattr(self, k) for k in (
            "sla_rate", "jobs", "hits", "misses", "per_model", "utilisation", "busy_cycles", "makespan",
            "energy_pj", "energy_sj_pj", "energy_nop_pj", "energy_overhead_pj", "latency_mean", "latency_p99",
            "dram_saturated_cycles", "periods", "decisions", "sched_wall_s_per_decision", "sched_cpu_s_per_decision", "meta")}
        if include_jobs:
            d["job_finish"] = self.job_finish
            d["job_hit"] = self.job_hit
        return clean(d)


class Simulator:
    """Online simulator of one system under a periodic scheduler.

    Args:
        costs: per-layer costs of the models on the system's SAs.
        period: scheduling period T_s in cycles.
        bandwidth: shared DRAM bandwidth in bytes per cycle; default ``costs.bandwidth``.
    """

    def __init__(self, costs: SystemCosts, period: float, bandwidth: float | None = None):
        if not period > 0 or not math.isfinite(period):
            raise ValueError(f"period must be a positive number of cycles, got {period}")
        self.costs = costs
        self.period = float(period)
        self.bandwidth = float(costs.bandwidth if bandwidth is None else bandwidth)
        if not self.bandwidth > 0:
            raise ValueError(f"bandwidth must be > 0 bytes/cycle, got {self.bandwidth}")
        self.num_sas = costs.num_sas
        models = costs.models
        self._nl = np.array([m.num_layers for m in models], np.int64)
        self._lay_off = np.zeros(len(models) + 1, np.int64)
        self._lay_off[1:] = np.cumsum(self._nl)
        M = self.num_sas
        cat = lambda attr: (np.vstack([np.asarray(getattr(m, attr), np.float64).reshape(m.num_layers, M)  # noqa: E731
                                       for m in models]) if models else np.zeros((0, M)))
        self._cycles = cat("cycles")
        self._bw = cat("bw")
        self._energy = cat("energy")
        self._dram = cat("dram_bytes")
        ptr, idx = [0], []
        for m in models:
            for preds in m.preds:
                idx.extend(int(p) for p in preds)
                ptr.append(len(idx))
        self._lp_ptr = np.array(ptr, np.int64)
        self._lp_idx = np.array(idx, np.int64)
        self._nop_pj_per_byte = 8.0 * float(costs.nop_energy_pj_per_bit or 0.0)
        self._w: Workload | None = None

    # ------------------------------------------------------------------ #
    # episode state

    def reset(self, workload: Workload) -> None:
        """Start an episode on ``workload`` (time 0, nothing running)."""
        J = workload.num_jobs
        try:
            mids = np.array([self.costs.model_id(n) for n in workload.models], np.int64)
        except KeyError as exc:
            raise ValueError(f"workload model {exc.args[0]!r} is not in the cost table "
                             f"(has {[m.name for m in self.costs.models]})") from None
        model = np.asarray(workload.model, np.int64)
        arrival = np.asarray(workload.arrival, np.float64)
        deadline = np.asarray(workload.deadline, np.float64)
        if arrival.shape != (J,) or deadline.shape != (J,):
            raise ValueError("workload arrays must all have one entry per job")
        if J and (model.min() < 0 or model.max() >= len(mids)):
            raise ValueError("workload.model indexes outside workload.models")
        if not np.isfinite(arrival).all() or (np.diff(arrival) < 0).any() or (J and arrival[0] < 0):
            raise ValueError("workload arrivals must be finite, >= 0 and non-decreasing")
        if np.isnan(deadline).any() or (deadline < arrival).any():
            raise ValueError("workload deadlines must be >= arrivals")
        self._w = workload
        self._arrival, self._deadline = arrival, deadline
        self._jmodel = mids[model]
        self._jnl = self._nl[self._jmodel]
        self._jfirst = np.zeros(J, np.int64)
        if J:
            self._jfirst[1:] = np.cumsum(self._jnl)[:-1]
        N = int(self._jnl.sum())
        self._g_job = np.repeat(np.arange(J, dtype=np.int64), self._jnl)
        g_layer = np.arange(N, dtype=np.int64) - self._jfirst[self._g_job]
        self._g_layer = g_layer
        self._g_lay = self._lay_off[self._jmodel[self._g_job]] + g_layer
        cnt = np.diff(self._lp_ptr)[self._g_lay]
        self._gp_ptr = np.zeros(N + 1, np.int64)
        self._gp_ptr[1:] = np.cumsum(cnt)
        rows = np.repeat(np.arange(N, dtype=np.int64), cnt)
        offs = np.arange(int(self._gp_ptr[-1]), dtype=np.int64) - self._gp_ptr[rows]
        self._gp_idx = self._lp_idx[self._lp_ptr[self._g_lay[rows]] + offs] + self._jfirst[self._g_job[rows]]
        self._g_state = np.zeros(N, np.int8)
        self._g_start = np.full(N, np.nan)
        self._g_finish = np.full(N, np.nan)
        self._g_sa = np.full(N, -1, np.int64)
        self._pos_of = np.zeros(N, np.int64)
        self._j_done = np.zeros(J, np.int64)
        self._j_last = np.full(J, -np.inf)
        self._j_status = np.zeros(J, np.int8)  # 0 unresolved, 1 hit, 2 miss
        self._n_resolved = 0
        self._next_open = 0  # next job to join the RQ
        self._next_live = 0  # next job to become live (arrived, for resolution)
        self._open: list[int] = []
        self._live: list[int] = []
        M = self.num_sas
        self._run_sj = np.full(M, -1, np.int64)
        self._run_rem = np.zeros(M)
        self._run_bw = np.zeros(M)
        self._pre_work = np.zeros(M)
        self._k = 0
        self._busy = np.zeros(M)
        self._sat = 0.0
        self._e_sj = 0.0
        self._e_nop = 0.0
        self._e_ovh = 0.0
        self._periods = 0
        self._decisions = 0
        self._wall = 0.0
        self._cpu = 0.0
        self._t_last = arrival[0] if J else 0.0
        self._rq: ReadyQueue | None = None
        self._rq_ids: np.ndarray | None = None
        self._overhead: tuple[int, float, float] | None = None
        self._finalised = False
        self._started = False
        self._acc_hits: list[int] = []
        self._acc_misses: list[int] = []
        self._drain_end = 0.0

    def _require(self) -> None:
        if self._w is None:
            raise RuntimeError("call reset(workload) first")

    @property
    def now(self) -> float:
        """Start of the current period."""
        return self._k * self.period

    @property
    def done(self) -> bool:
        """Every job of the workload is resolved."""
        self._require()
        return self._n_resolved == self._w.num_jobs

    def _busy_sas(self) -> bool:
        return bool((self._run_sj != -1).any() or (self._pre_work > 0).any())

    def _build_rq(self, t: float, jobs: list[int]) -> tuple[ReadyQueue, np.ndarray]:
        ids = _gather(np.array(jobs, np.int64), self._jfirst, self._jnl, self._g_state)
        job = self._g_job[ids]
        lay = self._g_lay[ids]
        arrival = self._arrival[job]
        run_rem = np.where(self._run_sj != -1, self._run_rem, 0.0)
        ptr, idx, pdt = _rq_preds(ids, self._g_state, self._g_sa, self._g_finish, self._gp_ptr, self._gp_idx,
                                  self._pos_of, arrival, t, run_rem)
        run_active = self._run_sj != -1
        run_job = np.where(self._run_sj >= 0, self._g_job[np.maximum(self._run_sj, 0)], -1)
        rq = ReadyQueue(
            now=t, period=self.period, bandwidth=self.bandwidth, job=job, model=self._jmodel[job],
            layer=self._g_layer[ids], arrival=arrival, deadline=self._deadline[job],
            cycles=self._cycles[lay], bw=self._bw[lay], energy=self._energy[lay],
            pred_ptr=ptr, pred_idx=idx, pred_done_time=pdt, sa_free=run_rem + self._pre_work,
            run_active=run_active, run_work=run_rem, run_bw=np.where(run_active, self._run_bw, 0.0),
            run_job=run_job.astype(np.int64), pre_work=self._pre_work.copy(),
        )
        return rq, ids

    def _period_index(self, a: float) -> int:
        k = int(math.ceil(a / self.period))
        while k > 0 and (k - 1) * self.period >= a:
            k -= 1
        while k * self.period < a:
            k += 1
        return k

    # ------------------------------------------------------------------ #
    # step API

    def observe(self) -> ReadyQueue | None:
        """The RQ of the next invocation with a non-empty RQ, to be decided by :meth:`step`;
        None when every job is resolved.

        The first call after :meth:`reset` advances to the first such invocation; later
        ones return what the last :meth:`step` advanced to.
        """
        self._require()
        if not self._started:
            self._started = True
            self._advance()
        return self._rq

    def _advance(self) -> None:
        """From the current period start, go to the next invocation with a non-empty RQ.

        Periods with an empty RQ but SJs running are simulated; idle stretches are skipped.
        Sets ``self._rq`` (None when done). Jobs resolved on the way are accumulated for
        the next :class:`StepInfo`.
        """
        self._rq, self._rq_ids, self._overhead = None, None, None
        J = self._w.num_jobs
        while not self.done:
            t = self.now
            while self._next_open < J and self._arrival[self._next_open] <= t:
                self._open.append(self._next_open)
                self._next_open += 1
            keep = []
            for j in self._open:
                f, n = self._jfirst[j], self._jnl[j]
                st = self._g_state[f:f + n]
                if self._deadline[j] <= t:
                    st[st == _PENDING] = _DROPPED
                    if self._j_status[j] == 0:
                        self._j_status[j] = 2
                        self._n_resolved += 1
                        self._acc_misses.append(j)
                elif (st == _PENDING).any():
                    keep.append(j)
            self._open = keep
            if self.done:
                break
            rq, ids = self._build_rq(t, self._open)
            if rq.size:
                self._rq, self._rq_ids = rq, ids
                return
            if self._busy_sas():
                self._execute(rq, ids, np.zeros(0), np.zeros(0, np.int64))
            elif self._next_open < J:
                self._k = max(self._k + 1, self._period_index(self._arrival[self._next_open]))
            else:  # pragma: no cover - unreachable: nothing pending, running or to come
                raise RuntimeError("simulator stalled with unresolved jobs")

    def charge_overhead(self, sa: int, cycles: float, energy_pj: float) -> None:
        """Charge the pending decision's cost: ``cycles`` of zero-bandwidth work on SA ``sa``
        ahead of every RQ SJ (the observed RQ's ``sa_free`` is updated) and ``energy_pj``."""
        if self._rq is None:
            raise RuntimeError("charge_overhead() needs an observed ready queue (call observe() first)")
        if not energy_pj >= 0 or not math.isfinite(energy_pj):
            raise ValueError("overhead energy must be finite and >= 0")
        self._rq.add_overhead(int(sa), float(cycles))
        self._pre_work[int(sa)] += float(cycles)
        self._e_ovh += float(energy_pj)
        self._overhead = (int(sa), float(cycles), float(energy_pj))

    def step(self, priority: np.ndarray, sa: np.ndarray, simulate_out: bool = True,
             residual_queue: bool = False) -> StepInfo:
        """Execute the decision for the observed RQ over one period, then advance to the next
        invocation with a non-empty RQ (returned by the next :meth:`observe`).

        Args:
            priority: float64 [R], higher starts first (ties: RQ order).
            sa: int64 [R], SA per SJ.
            simulate_out: also simulate the decision out (``StepInfo.finish_out``).
            residual_queue: also build the residual RQ at the period's end (``StepInfo.residual_rq``).
        """
        if self._rq is None:
            raise RuntimeError("step() needs an observed ready queue (call observe() first)")
        priority, sa = _check_action(self._rq, priority, sa)  # SchedulerError (a ValueError) names the first bad SJ
        return self._step(priority, sa, simulate_out, residual_queue)

    def _step(self, priority: np.ndarray, sa: np.ndarray, simulate_out: bool, residual_queue: bool) -> StepInfo:
        """:meth:`step` with a checked decision."""
        rq, ids = self._rq, self._rq_ids
        fo = _run_queue(rq, priority, sa).finish[:rq.size].copy() if simulate_out else None
        start, finish = self._execute(rq, ids, priority, sa)
        self._decisions += 1
        res_rq = self._residual_queue() if residual_queue else None
        overhead = self._overhead
        self._advance()
        hits = np.array(self._acc_hits, np.int64)
        misses = np.array(self._acc_misses, np.int64)
        self._acc_hits, self._acc_misses = [], []
        return StepInfo(t=rq.now, rq=rq, priority=priority, sa=sa, start=start, finish=finish, finish_out=fo,
                        residual=np.nonzero(np.isnan(start))[0].astype(np.int64), residual_rq=res_rq,
                        hits=hits, misses=misses, overhead=overhead, done=self.done)

    def _residual_queue(self) -> ReadyQueue:
        """The residual RQ right after a period: pending SJs of the jobs the decision saw
        (deadline not passed), without new arrivals, with the SA state at the period's end.
        RELMAS stores it as the next state. Valid only before :meth:`_advance`."""
        self._require()
        t = self.now
        jobs = [j for j in self._open if self._deadline[j] > t]
        return self._build_rq(t, jobs)[0]

    def _execute(self, rq: ReadyQueue, ids: np.ndarray, priority: np.ndarray, sa: np.ndarray):
        """Run one period [now, now + T_s) and update the state."""
        t = rq.now
        t_end = t + self.period
        R, M = rq.size, self.num_sas
        res = _run_queue(rq, priority, sa, horizon=t_end, stop_at_horizon=True)
        self._apply(rq, ids, sa, res)
        self._periods += 1
        self._k += 1
        self._resolve(t_end)
        return res.start[:R], res.finish[:R]

    def _apply(self, rq: ReadyQueue, ids: np.ndarray, sa: np.ndarray, res) -> None:
        R, M = rq.size, self.num_sas
        st, fi = res.start[:R], res.finish[:R]
        started = ~np.isnan(st)
        g = ids[started]
        s = sa[started]
        lay = self._g_lay[g]
        self._g_state[g] = _RUNNING
        self._g_start[g] = st[started]
        self._g_sa[g] = s
        self._e_sj += float(self._energy[lay, s].sum())
        if self._nop_pj_per_byte:
            self._e_nop += float(self._dram[lay, s].sum()) * self._nop_pj_per_byte
        fin = ~np.isnan(fi)
        done_g = [ids[fin]]
        done_t = [fi[fin]]
        new_run = np.full(M, -1, np.int64)
        new_rem = np.zeros(M)
        new_bw = np.zeros(M)
        for m in range(M):
            i = R + m
            if self._run_sj[m] != -1 and not np.isnan(res.start[i]):
                if np.isnan(res.finish[i]):
                    new_run[m], new_rem[m], new_bw[m] = self._run_sj[m], res.remaining[i], self._run_bw[m]
                elif self._run_sj[m] >= 0:
                    done_g.append(np.array([self._run_sj[m]]))
                    done_t.append(np.array([res.finish[i]]))
            i = R + M + m
            if self._pre_work[m] > 0 and not np.isnan(res.start[i]):
                self._pre_work[m] = 0.0
                if np.isnan(res.finish[i]):
                    new_run[m], new_rem[m], new_bw[m] = _PSEUDO, res.remaining[i], 0.0
        for i in np.nonzero(started & ~fin)[0]:
            m = sa[i]
            new_run[m], new_rem[m], new_bw[m] = ids[i], res.remaining[i], rq.bw[i, m]
        self._run_sj, self._run_rem, self._run_bw = new_run, new_rem, new_bw
        dg = np.concatenate(done_g)
        dt = np.concatenate(done_t)
        if dg.size:
            self._g_state[dg] = _DONE
            self._g_finish[dg] = dt
            jobs = self._g_job[dg]
            np.add.at(self._j_done, jobs, 1)
            np.maximum.at(self._j_last, jobs, dt)
            self._t_last = max(self._t_last, float(dt.max()))
        self._busy += res.busy
        self._sat += res.saturated

    def _resolve(self, t_end: float) -> None:
        J = self._w.num_jobs
        while self._next_live < J and self._arrival[self._next_live] <= t_end:
            self._live.append(self._next_live)
            self._next_live += 1
        hits, misses, keep = self._acc_hits, self._acc_misses, []
        for j in self._live:
            if self._j_status[j]:
                continue  # resolved earlier (a miss found when its SJs were dropped)
            if self._j_done[j] == self._jnl[j]:
                ok = self._j_last[j] <= self._deadline[j]
                self._j_status[j] = 1 if ok else 2
                self._n_resolved += 1
                (hits if ok else misses).append(j)
            elif self._deadline[j] <= t_end:
                self._j_status[j] = 2
                self._n_resolved += 1
                misses.append(j)
            else:
                keep.append(j)
        self._live = keep

    def sj_records(self) -> dict[str, np.ndarray]:
        """Per-SJ record of the episode so far, one entry per SJ of the workload (job by job,
        layer by layer): ``job``, ``layer``, ``sa`` (-1 if never started), ``start``, ``finish``
        (NaN if not reached), ``state`` (0 pending, 1 running, 2 done, 3 dropped)."""
        self._require()
        return {"job": self._g_job.copy(), "layer": self._g_layer.copy(), "sa": self._g_sa.copy(),
                "start": self._g_start.copy(), "finish": self._g_finish.copy(), "state": self._g_state.copy()}

    # ------------------------------------------------------------------ #
    # whole episodes

    def run(self, workload: Workload, scheduler: Scheduler, seed: int | None = 0) -> EpisodeResult:
        """Simulate ``workload`` under ``scheduler`` (reset with ``seed``) to the end.

        The same workload, scheduler and seed give the same metrics (wall time aside).

        Raises:
            SchedulerError: the scheduler returned an invalid decision or overhead, or raised (the
                scheduler's exception is the ``__cause__``); the message names the scheduler and the time.
        """
        name = getattr(scheduler, "name", type(scheduler).__name__)
        try:
            scheduler.reset(seed)
        except Exception as exc:
            raise scheduler_failed(name, 0.0, "reset", exc) from exc
        self.reset(workload)
        while (rq := self.observe()) is not None:
            t0, c0 = time.perf_counter(), time.process_time()
            method = "decision_overhead"
            try:
                ov = scheduler.decision_overhead(rq)
                if ov is not None:
                    method = "charge"
                    self.charge_overhead(*ov)
                method = "schedule"
                decision = scheduler.schedule(rq)
            except Exception as exc:
                if method == "charge":
                    raise SchedulerError(f"decision_overhead() returned {ov!r}, expected (sa, cycles, energy_pj): "
                                         f"{exc}", name, rq.now) from None
                raise scheduler_failed(name, rq.now, method, exc) from exc
            self._wall += time.perf_counter() - t0
            self._cpu += time.process_time() - c0
            self._step(*check_decision(decision, rq, name), simulate_out=False, residual_queue=False)
        return self.result(meta={"scheduler": name, "seed": seed})

    def result(self, meta: dict[str, Any] | None = None) -> EpisodeResult:
        """Metrics of the finished episode (after :meth:`observe` returned None).

        SJs still running are simulated to completion first (no new starts), so their
        busy time and energy count.
        """
        self._require()
        if not self.done:
            raise RuntimeError("the episode is not over: call observe()/step() until observe() returns None")
        if not self._finalised:
            self._finalised = True
            # every job is resolved: what is left pending can never start. All jobs, not only the open
            # ones: a job that arrived and expired between the last two invocations was never opened.
            self._g_state[self._g_state == _PENDING] = _DROPPED
            self._open = []
            if self._busy_sas():
                rq, ids = self._build_rq(self.now, [])
                res = _run_queue(rq, np.zeros(0), np.zeros(0, np.int64))
                self._apply(rq, ids, np.zeros(0, np.int64), res)
                self._t_last = max(self._t_last, res.t_end)
        w = self._w
        J = w.num_jobs
        hit = self._j_status == 1
        jf = np.where(self._j_done == self._jnl, self._j_last, np.nan)
        per_model: dict[str, dict[str, float]] = {}
        for mi, name in enumerate(w.models):
            sel = np.asarray(w.model) == mi
            n = int(sel.sum())
            h = int(hit[sel].sum())
            per_model[name] = {"jobs": n, "hits": h, "sla_rate": h / n if n else math.nan}
        lat = (jf - self._arrival)[~np.isnan(jf)]
        makespan = max(0.0, self._t_last - (self._arrival[0] if J else 0.0))
        util = (self._busy / makespan).tolist() if makespan > 0 else [0.0] * self.num_sas
        hits = int(hit.sum())
        m = {"period": self.period, "bandwidth": self.bandwidth, "system": self.costs.system,
             "workload": dict(w.meta)}
        m.update(meta or {})
        return EpisodeResult(
            sla_rate=hits / J if J else math.nan, jobs=J, hits=hits, misses=J - hits, per_model=per_model,
            utilisation=util, busy_cycles=self._busy.tolist(), makespan=makespan,
            energy_pj=self._e_sj + self._e_nop + self._e_ovh, energy_sj_pj=self._e_sj, energy_nop_pj=self._e_nop,
            energy_overhead_pj=self._e_ovh,
            latency_mean=float(lat.mean()) if lat.size else math.nan,
            latency_p99=float(np.percentile(lat, 99)) if lat.size else math.nan,
            dram_saturated_cycles=self._sat, periods=self._periods, decisions=self._decisions,
            sched_wall_s_per_decision=self._wall / self._decisions if self._decisions else 0.0,
            sched_cpu_s_per_decision=self._cpu / self._decisions if self._decisions else 0.0,
            job_finish=jf, job_hit=hit, meta=m,
        )

