"""The scheduler interface: what a scheduler sees (:class:`ReadyQueue`), what it returns, and a registry.

Every scheduler (FCFS-H, PREMA-H, Herald, MAGMA, EDF-H, RELMAS, ``random``) runs
inside the same simulator through one interface: at each invocation
``t = k * T_s`` it receives the ready queue and the SA state, and returns a
priority (float, higher first) and an SA index for every SJ of the queue.

Schedulers plug in by name::

    from relmas.scheduler import Scheduler, register_scheduler, get_scheduler

    class MyScheduler(Scheduler):
        name = "mine"
        def schedule(self, rq):
            return -rq.deadline, rq.cycles.argmin(axis=1)

    register_scheduler("mine", MyScheduler)
    sched = get_scheduler("mine")

``get_scheduler`` imports the modules of the packages listed in
:data:`PLUGIN_PACKAGES` the first time a name is unknown, so modules under
``baselines/`` that call :func:`register_scheduler` at import time are found
without an explicit import. Each module is imported on its own: one that fails
to import (a missing dependency, a name registered twice) leaves the others
usable and is named, with its error, when a requested name is not found
(:func:`plugin_errors` lists them).
"""
from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

from characterize.errors import InputError
from relmas.sim import kernel as _k


def _values_equal(a: Any, b: Any) -> bool:
    """Equality for dataclass fields that may hold numpy arrays (NaN equals NaN)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def dataclass_equal(x: Any, y: Any) -> bool:
    """Field-by-field equality of two dataclass instances of the same type (arrays compared by value)."""
    if type(x) is not type(y):
        return False
    return all(_values_equal(getattr(x, f.name), getattr(y, f.name)) for f in fields(x) if f.compare)

# --------------------------------------------------------------------------- #
# Ready queue


@dataclass(eq=False)
class ReadyQueue:
    """The ready queue (RQ) and SA state at one scheduler invocation.

    The R SJs are in tie order: by job arrival, then job index, then layer
    index. Every array indexed by SJ follows that order; priorities returned
    by a scheduler are matched to it, and equal priorities go to the SJ that
    comes first in it.

    The queue is read-only: its arrays are flagged non-writeable when it is built
    (writing to one raises ``ValueError: assignment destination is read-only``),
    because the simulator executes the period from these same arrays after
    :meth:`Scheduler.schedule` returns. A scheduler that needs a modified copy
    takes one (``rq.cycles.copy()``); it must not rebind the attributes either.
    :meth:`add_overhead` (the simulator's own call) replaces the two arrays it changes.

    Attributes:
        now: invocation time t in cycles.
        period: scheduling period T_s in cycles.
        bandwidth: shared DRAM bandwidth B in bytes per cycle.
        job: int64 [R], workload job index of each SJ.
        model: int64 [R], model index (into ``SystemCosts.models``).
        layer: int64 [R], layer index inside the model.
        arrival: float64 [R], arrival time of the SJ's job.
        deadline: float64 [R], absolute deadline of the SJ's job (> now).
        cycles: float64 [R, M], stall-free cycles of each SJ on each SA.
        bw: float64 [R, M], required DRAM bandwidth (bytes/cycle) on each SA.
        energy: float64 [R, M], energy (pJ) on each SA.
        pred_ptr: int64 [R+1], CSR row pointers of the predecessors still pending.
        pred_idx: int64 [E], predecessor entries: ``< R`` is an SJ of this queue,
            ``R + m`` is the SJ now running on SA m. Finished predecessors are omitted.
        pred_done_time: float64 [R], estimated absolute time at which every predecessor
            *outside* the queue is done: the max of the job's arrival, the finish time of
            finished predecessors and ``now + run_work[m]`` for a predecessor running on SA m.
        sa_free: float64 [M], cycles until each SA is free: the stall-free work left of the
            SJ running on it plus queued decision-overhead work (``run_work + pre_work``);
            0 if idle. It ignores future contention, which is unknown at decision time.
        run_active: bool [M], SA m is running something (an SJ or the overhead pseudo-SJ).
        run_work: float64 [M], stall-free work left of what runs on SA m (0 if idle).
        run_bw: float64 [M], its bandwidth demand (0 for the pseudo-SJ).
        run_job: int64 [M], job index of the SJ running on SA m; -1 if idle or pseudo-SJ.
        pre_work: float64 [M], zero-bandwidth decision-overhead work queued on SA m, run
            before any queue SJ as soon as the SA is free.
    """

    now: float
    period: float
    bandwidth: float
    job: np.ndarray
    model: np.ndarray
    layer: np.ndarray
    arrival: np.ndarray
    deadline: np.ndarray
    cycles: np.ndarray
    bw: np.ndarray
    energy: np.ndarray
    pred_ptr: np.ndarray
    pred_idx: np.ndarray
    pred_done_time: np.ndarray
    sa_free: np.ndarray
    run_active: np.ndarray
    run_work: np.ndarray
    run_bw: np.ndarray
    run_job: np.ndarray
    pre_work: np.ndarray
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        d = self.__dict__
        for name in _RQ_ARRAYS:
            a = d[name]
            if isinstance(a, np.ndarray):
                a.setflags(write=False)  # setflags: half the cost of a.flags.writeable (once per period)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # pickle and deepcopy (label workers, DAgger's copies of visited queues) rebuild the arrays writeable
        self.__dict__.update(state)
        self.__post_init__()
        for a in (state.get("_cache") or {}).get("jobs", ()):
            if isinstance(a, np.ndarray):
                a.setflags(write=False)

    def __eq__(self, other: object) -> bool:
        return dataclass_equal(self, other)

    __hash__ = None  # type: ignore[assignment]

    @property
    def size(self) -> int:
        """Number of SJs R."""
        return int(self.job.shape[0])

    def __len__(self) -> int:
        return self.size

    @property
    def B(self) -> float:
        """Alias of :attr:`bandwidth` (the paper's B)."""
        return self.bandwidth

    @property
    def num_sas(self) -> int:
        """Number of SAs M."""
        return int(self.sa_free.shape[0])

    def _job_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if "jobs" not in self._cache:
            uniq, first, inv = np.unique(self.job, return_index=True, return_inverse=True)
            order = np.argsort(first, kind="stable")  # jobs in order of first appearance
            pos = np.empty_like(order)
            pos[order] = np.arange(order.shape[0])
            out = (uniq[order].astype(np.int64), pos[inv].astype(np.int64), first[order])
            for a in out:
                a.setflags(write=False)
            self._cache["jobs"] = out
        return self._cache["jobs"]

    @property
    def jobs(self) -> np.ndarray:
        """int64 [Jq], the distinct jobs of the queue, in order of first appearance."""
        return self._job_index()[0]

    @property
    def job_pos(self) -> np.ndarray:
        """int64 [R], position of each SJ's job in :attr:`jobs`."""
        return self._job_index()[1]

    @property
    def job_deadline(self) -> np.ndarray:
        """float64 [Jq], deadline of each job of :attr:`jobs`."""
        return self.deadline[self._job_index()[2]]

    @property
    def job_arrival(self) -> np.ndarray:
        """float64 [Jq], arrival of each job of :attr:`jobs`."""
        return self.arrival[self._job_index()[2]]

    def preds(self, i: int) -> np.ndarray:
        """Pending predecessor entries of SJ i (see :attr:`pred_idx`)."""
        return self.pred_idx[self.pred_ptr[i]:self.pred_ptr[i + 1]]

    def add_overhead(self, sa: int, cycles: float) -> None:
        """Queue ``cycles`` of zero-bandwidth decision-overhead work on SA ``sa``."""
        if not 0 <= sa < self.num_sas:
            raise ValueError(f"overhead SA {sa} out of range [0, {self.num_sas})")
        if not cycles >= 0 or not math.isfinite(cycles):
            raise ValueError("overhead cycles must be finite and >= 0")
        pre_work, sa_free = self.pre_work.copy(), self.sa_free.copy()  # the queue's arrays are read-only
        pre_work[sa] += cycles
        sa_free[sa] += cycles
        pre_work.setflags(write=False)
        sa_free.setflags(write=False)
        self.pre_work, self.sa_free = pre_work, sa_free
        self._cache.pop("kin_True", None)
        self._cache.pop("kin_False", None)

    @classmethod
    def create(
        cls,
        now: float,
        period: float,
        bandwidth: float,
        job: np.ndarray,
        layer: np.ndarray,
        arrival: np.ndarray,
        deadline: np.ndarray,
        cycles: np.ndarray,
        bw: np.ndarray,
        preds: list[list[int]],
        model: np.ndarray | None = None,
        energy: np.ndarray | None = None,
        run_work: np.ndarray | None = None,
        run_bw: np.ndarray | None = None,
        run_job: np.ndarray | None = None,
        pre_work: np.ndarray | None = None,
        pred_done_time: np.ndarray | None = None,
    ) -> "ReadyQueue":
        """Build a queue from plain arrays (tests, benchmarks, offline tools).

        ``preds[i]`` lists SJ i's pending predecessors in the :attr:`pred_idx` convention.
        The running state defaults to idle SAs; ``pred_done_time`` to the arrival, raised to
        ``now + run_work[m]`` for predecessors running on SA m. The arrays are copied (the
        queue's own are read-only; the caller's stay writeable).
        """
        cycles = np.array(cycles, np.float64)
        R, M = cycles.shape
        job = np.array(job, np.int64)
        arrival = np.array(arrival, np.float64)
        run_work = np.zeros(M) if run_work is None else np.array(run_work, np.float64)
        run_bw = np.zeros(M) if run_bw is None else np.array(run_bw, np.float64)
        run_job = np.full(M, -1, np.int64) if run_job is None else np.array(run_job, np.int64)
        pre_work = np.zeros(M) if pre_work is None else np.array(pre_work, np.float64)
        ptr = np.zeros(R + 1, np.int64)
        ptr[1:] = np.cumsum([len(p) for p in preds])
        idx = np.array([q for p in preds for q in p], np.int64)
        if pred_done_time is None:
            pred_done_time = arrival.copy()
            for i, p in enumerate(preds):
                for q in p:
                    if q >= R:
                        pred_done_time[i] = max(pred_done_time[i], now + run_work[q - R])
        return cls(
            now=float(now), period=float(period), bandwidth=float(bandwidth), job=job,
            model=np.zeros(R, np.int64) if model is None else np.array(model, np.int64),
            layer=np.array(layer, np.int64), arrival=arrival, deadline=np.array(deadline, np.float64),
            cycles=cycles, bw=np.array(bw, np.float64),
            energy=np.zeros((R, M)) if energy is None else np.array(energy, np.float64),
            pred_ptr=ptr, pred_idx=idx, pred_done_time=np.array(pred_done_time, np.float64),
            sa_free=run_work + pre_work, run_active=run_work > 0, run_work=run_work, run_bw=run_bw,
            run_job=run_job, pre_work=pre_work,
        )


#: The array fields of :class:`ReadyQueue`, flagged read-only when a queue is built.
_RQ_ARRAYS = tuple(f.name for f in fields(ReadyQueue) if f.init and f.name not in ("now", "period", "bandwidth"))

# --------------------------------------------------------------------------- #
# Simulating a queue's schedule with the kernel


def _kernel_inputs(rq: ReadyQueue, drop: bool) -> dict[str, Any]:
    """Fixed kernel inputs of a queue: layout [queue SJs | running slot per SA | overhead slot per SA]."""
    key = f"kin_{bool(drop)}"
    if key in rq._cache:
        return rq._cache[key]
    R, M = rq.size, rq.num_sas
    n = R + 2 * M
    sa = np.empty(n, np.int64)
    sa[R:R + M] = np.arange(M)
    sa[R + M:] = np.arange(M)
    work = np.zeros(n)
    work[R:R + M] = np.where(rq.run_active, rq.run_work, 0.0)
    work[R + M:] = rq.pre_work
    bw = np.zeros(n)
    bw[R:R + M] = np.where(rq.run_active, rq.run_bw, 0.0)
    release = np.full(n, np.inf)
    release[:R] = rq.arrival
    release[R + M:] = np.where(rq.pre_work > 0, rq.now, np.inf)
    deadline = np.full(n, np.inf)
    if drop:
        deadline[:R] = rq.deadline
    started = np.zeros(n, np.bool_)
    started[R:R + M] = rq.run_active
    ptr = np.zeros(n + 1, np.int64)
    ptr[:R + 1] = rq.pred_ptr
    ptr[R + 1:] = rq.pred_ptr[-1]
    idx = rq.pred_idx.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= R + M):
        raise ValueError("ReadyQueue.pred_idx refers outside the queue and the running SJs")
    npred0, succ_ptr, succ_idx = _k._successors(n, ptr, idx)
    rank = np.zeros(n, np.int64)
    rank[R + M:] = -1  # overhead pseudo-SJs go first on their SA
    run_job_pos = np.full(M, -1, np.int64)
    jobs = rq.jobs
    for m in range(M):
        if rq.run_active[m] and rq.run_job[m] >= 0:
            hit = np.nonzero(jobs == rq.run_job[m])[0]
            if hit.size:
                run_job_pos[m] = hit[0]
    kin = dict(n=n, sa=sa, work=work, bw=bw, release=release, deadline=deadline, started=started,
               pred_ptr=ptr, pred_idx=idx, npred0=npred0, succ_ptr=succ_ptr, succ_idx=succ_idx,
               rank=rank, rel_order=np.argsort(release, kind="stable").astype(np.int64),
               run_job_pos=run_job_pos)
    rq._cache[key] = kin
    return kin


class SchedulerError(InputError, ValueError):
    """A scheduler's decision is invalid, or the scheduler raised.

    The message names the scheduler (when known), the invocation time and the fault, e.g.
    ``scheduler 'mine': t=300000: sa[4] = 6 is not an SA index in [0, 6)``. It is an
    :class:`~characterize.errors.InputError` (the CLI prints it on one line and exits 2) and
    a ``ValueError``. When the scheduler itself raised, the exception is the ``__cause__`` and
    :attr:`show_cause` is True: the CLI then prints its traceback before the line, since it
    points into the scheduler's own code.
    """

    def __init__(self, message: str, scheduler: str | None = None, t: float | None = None,
                 show_cause: bool = False):
        self.scheduler, self.t, self.show_cause = scheduler, t, show_cause
        super().__init__(f"scheduler '{scheduler}'" if scheduler is not None else "decision",
                         f"t={t:.12g}" if t is not None else "", message)

    def __reduce__(self):  # picklable (label workers raise it in another process)
        return SchedulerError, (self.message, self.scheduler, self.t, self.show_cause)

    def named(self, scheduler: str) -> "SchedulerError":
        """The same error, naming ``scheduler``."""
        return SchedulerError(self.message, scheduler, self.t, self.show_cause)


def _vector(x: Any, what: str, R: int, t: float) -> np.ndarray:
    """``x`` as a 1-D numeric array of length R (no bool, no strings), else SchedulerError."""
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise SchedulerError(f"{what} is not an array of numbers ({exc})", t=t) from None
    if a.dtype.kind not in "iuf":
        raise SchedulerError(f"{what} has dtype {a.dtype}, expected {'numbers' if what == 'priority' else 'integers'}",
                             t=t)
    if a.shape != (R,):
        raise SchedulerError(f"{what} has shape {a.shape}, expected ({R},): one entry per SJ of the queue", t=t)
    return a


def _check_action(rq: ReadyQueue, priority: Any, sa: Any) -> tuple[np.ndarray, np.ndarray]:
    """A decision as float64 priorities and int64 SAs; SchedulerError (a ValueError) naming the first bad SJ.

    Priorities are numbers (integers or floats; ±inf are valid ordering keys), not NaN, not bool;
    SAs are integers in [0, M), given as an integer array or as floats with integer values.
    """
    R, M, t = rq.size, rq.num_sas, rq.now
    priority = _vector(priority, "priority", R, t)
    sa = _vector(sa, "sa", R, t)
    if priority.dtype.kind == "f" and np.isnan(priority).any():
        raise SchedulerError(f"priority[{int(np.argmax(np.isnan(priority)))}] is NaN", t=t)
    if sa.dtype.kind == "f":
        frac = sa != np.rint(sa)  # NaN too
        if frac.any():
            i = int(np.argmax(frac))
            raise SchedulerError(f"sa[{i}] = {sa[i].item()!r} is not an integer SA index", t=t)
    if R and (sa.min() < 0 or sa.max() >= M):  # the bad index is looked up only on failure
        i = int(np.argmax((sa < 0) | (sa >= M)))
        v = sa[i].item()
        raise SchedulerError(f"sa[{i}] = {v:g} is not an SA index in [0, {M})" if isinstance(v, float)
                             else f"sa[{i}] = {v} is not an SA index in [0, {M})", t=t)
    return np.ascontiguousarray(priority, dtype=np.float64), np.ascontiguousarray(sa, dtype=np.int64)


def check_decision(decision: Any, rq: ReadyQueue, scheduler: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What :meth:`Scheduler.schedule` returned, checked and converted: ``(priority float64[R], sa int64[R])``.

    Raises:
        SchedulerError: not a pair ``(priority, sa)`` (a tuple or list of two), or an entry is not a
            1-D array of R numbers, a priority is NaN, or an SA is not an integer in [0, M). The
            message names ``scheduler``, the time and the first bad SJ with its value.
    """
    try:
        if not isinstance(decision, (tuple, list)) or len(decision) != 2:
            what = (f"an array of shape {decision.shape}" if isinstance(decision, np.ndarray) else
                    f"a {type(decision).__name__} of length {len(decision)}" if isinstance(decision, (tuple, list))
                    else f"{type(decision).__name__}")
            raise SchedulerError(f"schedule() returned {what}, expected a tuple (priority, sa) of two arrays of "
                                 f"length R = {rq.size}", t=rq.now)
        return _check_action(rq, decision[0], decision[1])
    except SchedulerError as exc:
        if scheduler is None:
            raise
        raise exc.named(scheduler) from None


def decide(scheduler: "Scheduler", rq: ReadyQueue) -> tuple[np.ndarray, np.ndarray]:
    """``scheduler.schedule(rq)``, checked by :func:`check_decision`; an exception it raises becomes a
    :class:`SchedulerError` naming the scheduler and the time (the exception is its ``__cause__``)."""
    name = getattr(scheduler, "name", type(scheduler).__name__)
    try:
        decision = scheduler.schedule(rq)
    except Exception as exc:
        raise scheduler_failed(name, rq.now, "schedule", exc) from exc
    return check_decision(decision, rq, name)


def scheduler_failed(scheduler: str, t: float, method: str, exc: BaseException) -> SchedulerError:
    """The error to raise (``from exc``) when ``scheduler``'s ``method`` raised ``exc`` at time ``t``."""
    hint = " (the ready queue's arrays are read-only: work on a copy)" if "read-only" in str(exc) else ""
    return SchedulerError(f"{method}() raised {type(exc).__name__}: {exc}{hint}", scheduler, t,
                          show_cause=not isinstance(exc, InputError))


def run_queue(rq: ReadyQueue, priority: np.ndarray, sa: np.ndarray, horizon: float = math.inf,
              stop_at_horizon: bool = False, drop: bool = True) -> _k.KernelResult:
    """Run one decision for a queue with the kernel (entries: queue SJs, then running and overhead slots).

    Args:
        rq: the ready queue.
        priority: float64 [R], higher first.
        sa: int64 [R], SA of each SJ.
        horizon: no new starts at or after this absolute time.
        stop_at_horizon: stop at the horizon (one online period) instead of simulating out.
        drop: respect deadlines (an SJ may start only before its job's deadline).

    Returns:
        The :class:`~relmas.sim.kernel.KernelResult` over ``R + 2M`` entries: ``[0, R)`` the queue,
        ``R + m`` what runs on SA m at ``now``, ``R + M + m`` the overhead queued on SA m.

    Raises:
        SchedulerError: a ``ValueError`` naming the first bad entry (see :func:`check_decision`).
    """
    return _run_queue(rq, *_check_action(rq, priority, sa), horizon, stop_at_horizon, drop)


def _run_queue(rq: ReadyQueue, priority: np.ndarray, sa: np.ndarray, horizon: float = math.inf,
               stop_at_horizon: bool = False, drop: bool = True) -> _k.KernelResult:
    """:func:`run_queue` of a decision already checked (float64 / int64 arrays of length R, valid SAs)."""
    kin = _kernel_inputs(rq, drop)
    R, M = rq.size, rq.num_sas
    n = kin["n"]
    sa_all = kin["sa"].copy()
    sa_all[:R] = sa
    work = kin["work"].copy()
    bw = kin["bw"].copy()
    ar = np.arange(R)
    work[:R] = rq.cycles[ar, sa]
    bw[:R] = rq.bw[ar, sa]
    rank = kin["rank"].copy()
    _k._rank_from_priority(priority, rank, 0)
    start = np.empty(n)
    finish = np.empty(n)
    remaining = np.empty(n)
    busy = np.empty(M)
    sat, t_end = _k._simulate(
        M, sa_all, rank, work, bw, kin["release"], kin["deadline"], kin["started"],
        kin["npred0"], kin["succ_ptr"], kin["succ_idx"], kin["rel_order"],
        float(rq.now), float(horizon), float(rq.bandwidth), bool(stop_at_horizon),
        start, finish, remaining, busy,
        np.empty(n, np.int64), np.empty(n, np.uint8), np.empty((M, max(n, 1)), np.int64),
        np.empty(M, np.int64), np.empty(M, np.int64), np.empty(M))
    return _k.KernelResult(start, finish, remaining, busy, float(sat), float(t_end))


def simulate_out(rq: ReadyQueue, priority: np.ndarray, sa: np.ndarray, drop: bool = True) -> np.ndarray:
    """Finish time of every queue SJ when the decision is simulated out.

    The whole queue plus the SJs already running (and queued decision overhead) run to
    completion with contention, with no new arrivals and no new decisions. With ``drop``
    (the simulator's behaviour) an SJ cannot start at or after its job's deadline.

    Returns:
        float64 [R], absolute finish times; NaN for SJs that never start (dropped).
    """
    return run_queue(rq, priority, sa, drop=drop).finish[:rq.size].copy()


class BatchResult(NamedTuple):
    """Output of :func:`simulate_out_batch`.

    Attributes:
        finish: float64 [P, R], finish time of every queue SJ under each candidate; NaN if dropped.
        job_finish: float64 [P, Jq], finish of each queue job (:attr:`ReadyQueue.jobs`): the
            latest finish of its queue SJs and of its SJ running at ``now``, NaN if any of its
            queue SJs was dropped.
        hits: int64 [P], jobs of the queue with ``job_finish <= deadline``.
    """

    finish: np.ndarray
    job_finish: np.ndarray
    hits: np.ndarray


def simulate_out_batch(rq: ReadyQueue, priority: np.ndarray, sa: np.ndarray, drop: bool = True) -> BatchResult:
    """Simulate out P candidate decisions for the same queue in one compiled call.

    This is the fitness pattern of a genetic algorithm (MAGMA): each row is one
    individual. It gives the same finish times as :func:`simulate_out` row by row.

    Args:
        rq: the ready queue.
        priority: float64 [P, R], higher first.
        sa: int64 [P, R], SA of each SJ.
        drop: respect deadlines as the simulator does.
    """
    priority = np.ascontiguousarray(priority, dtype=np.float64)
    sa = np.ascontiguousarray(sa, dtype=np.int64)
    R, M = rq.size, rq.num_sas
    if priority.ndim != 2 or priority.shape[1] != R or sa.shape != priority.shape:
        raise ValueError(f"priority and sa must have shape (P, {R}), got {priority.shape} and {sa.shape}")
    bad = _k._batch_validate(M, priority, sa)
    if bad == 1:
        raise ValueError(f"sa values must lie in [0, {M})")
    if bad == 2:
        raise ValueError("priority contains NaN")
    kin = _kernel_inputs(rq, drop)
    P = priority.shape[0]
    jobs = rq.jobs
    finish = np.empty((P, R))
    job_finish = np.empty((P, len(jobs)))
    _k._batch(M, R, np.ascontiguousarray(rq.cycles), np.ascontiguousarray(rq.bw), priority, sa,
              kin["sa"], kin["work"], kin["bw"], kin["rank"], kin["release"], kin["deadline"], kin["started"],
              kin["npred0"], kin["succ_ptr"], kin["succ_idx"], kin["rel_order"],
              float(rq.now), float(rq.bandwidth), rq.job_pos, len(jobs), kin["run_job_pos"],
              finish, job_finish)
    with np.errstate(invalid="ignore"):
        hits = (job_finish <= rq.job_deadline[None, :]).sum(axis=1).astype(np.int64)
    return BatchResult(finish, job_finish, hits)


# --------------------------------------------------------------------------- #
# Scheduler interface


class Scheduler:
    """Base class of every scheduler.

    Subclasses set :attr:`name` and implement :meth:`schedule`; :meth:`reset` is
    called once per episode with the episode's seed, so the same seed gives the
    same decisions.
    """

    name: str = "scheduler"

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode (reseed internal random state, clear per-episode memory)."""

    def schedule(self, rq: ReadyQueue) -> tuple[np.ndarray, np.ndarray]:
        """Decide the queue.

        Args:
            rq: the ready queue and SA state (never empty; read-only).

        Returns:
            ``(priority, sa)``, a tuple (or list) of two 1-D arrays of length R: priorities
            (numbers, not NaN; ±inf allowed; higher starts first; ties go to the SJ earlier in
            the queue's tie order) and SA indices in [0, M) (integers, or floats with integer
            values). :func:`check_decision` checks it; anything else stops the episode with a
            :class:`SchedulerError` naming the scheduler, the time and the first bad SJ.
        """
        raise NotImplementedError

    def label_fingerprint(self) -> Any:
        """What, beyond its registered name and arguments, fixes this scheduler's decisions, or None.

        A JSON-able value (e.g. a built-in list of sub-schedulers). It is part of the cache key of expert
        labels (:func:`relmas.labels.episode_key`), so labels of an earlier version are never reused.
        """
        return None

    def decision_overhead(self, rq: ReadyQueue) -> tuple[int, float, float] | None:
        """Cost of computing this decision on the MAS itself, or None if it is free.

        Called before :meth:`schedule`. Returns ``(sa, cycles, energy_pj)``: the
        simulator queues ``cycles`` of zero-bandwidth work on SA ``sa`` ahead of
        every queue SJ (so it is busy that long as soon as it is free; ``rq.sa_free``
        includes it when :meth:`schedule` runs) and adds ``energy_pj`` to the total.
        """
        return None


class RandomScheduler(Scheduler):
    """Uniform random priorities in [0, 1) and uniform random SAs (a floor for every metric).

    Args:
        seed: default seed, used when :meth:`reset` is called without one.
    """

    name = "random"

    def __init__(self, seed: int | None = 0):
        self._seed = seed
        self._rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(self._seed if seed is None else seed)

    def schedule(self, rq: ReadyQueue) -> tuple[np.ndarray, np.ndarray]:
        R = rq.size
        return self._rng.random(R), self._rng.integers(0, rq.num_sas, size=R, dtype=np.int64)


# --------------------------------------------------------------------------- #
# Registry

SchedulerFactory = Callable[..., Scheduler]
_REGISTRY: dict[str, SchedulerFactory] = {}
PLUGIN_PACKAGES: list[str] = ["baselines", "relmas.policy"]
"""Packages (every module not starting with ``_``) and modules imported to find schedulers registered at
import time."""
_discovered = False
_discovering = False
_PLUGIN_ERRORS: dict[str, str] = {}  # plug-in module -> "ExceptionType: message" of its failed import
_CONFLICTS: dict[str, list[str]] = {}  # name -> the modules that registered it during discovery


def _origin(factory: Any) -> str:
    return str(getattr(factory, "__module__", None) or "?")


def register_scheduler(name: str, factory: SchedulerFactory, overwrite: bool = False) -> None:
    """Make ``factory(**kwargs)`` available as ``get_scheduler(name, **kwargs)``.

    Names are case-insensitive. Registering the same factory again does nothing; ``overwrite=True``
    replaces another factory (e.g. a class redefined in a notebook cell).

    Raises:
        ValueError: ``name`` is taken by another factory and ``overwrite`` is False (the message names the
            modules of both). During plug-in discovery the clash is recorded instead, so that the other
            modules still load, and :func:`get_scheduler` refuses that one name.
    """
    key = name.lower()
    old = _REGISTRY.get(key)
    if old is not None and old is not factory and not overwrite:
        if _discovering:
            _CONFLICTS.setdefault(key, [_origin(old)]).append(_origin(factory))
            return
        raise ValueError(f"scheduler {name!r} is already registered by {_origin(old)}; {_origin(factory)} registers "
                         "it again (rename one, or pass overwrite=True to replace it)")
    _REGISTRY[key] = factory
    _CONFLICTS.pop(key, None)


def _discover() -> None:
    """Import every plug-in module once, each on its own: one that fails is recorded and skipped."""
    global _discovered, _discovering
    if _discovered:
        return
    _discovering = True
    try:
        for pkg_name in PLUGIN_PACKAGES:
            try:
                pkg = importlib.import_module(pkg_name)
            except Exception as exc:
                _PLUGIN_ERRORS[pkg_name] = f"{type(exc).__name__}: {exc}"
                continue
            for info in pkgutil.iter_modules(getattr(pkg, "__path__", [])):
                if info.name.startswith("_"):
                    continue
                mod = f"{pkg_name}.{info.name}"
                try:
                    importlib.import_module(mod)
                except Exception as exc:
                    _PLUGIN_ERRORS[mod] = f"{type(exc).__name__}: {exc}"
    finally:
        _discovering = False
    _discovered = True


def plugin_errors(discover: bool = True) -> dict[str, str]:
    """Plug-in modules that failed to import during discovery: ``{module: "ExceptionType: message"}``.

    With ``discover=False``, only what an earlier discovery found (none if none ran yet).
    """
    if discover:
        _discover()
    return dict(_PLUGIN_ERRORS)


def available_schedulers() -> list[str]:
    """Names of every registered scheduler (plugins included), sorted."""
    _discover()
    return sorted(_REGISTRY)


def scheduler_factory(name: str) -> SchedulerFactory:
    """The factory registered as ``name`` (plug-ins are discovered the first time a name is unknown).

    Raises:
        KeyError: no scheduler has that name; ``args[0]`` lists the known ones and any plug-in module
            that failed to import, with its error.
        ValueError: two plug-in modules registered that name (both are named).
    """
    key = name.lower()
    if key not in _REGISTRY:
        _discover()
    if key in _CONFLICTS:
        raise ValueError(f"scheduler {name!r} is registered by two modules: {' and '.join(_CONFLICTS[key])} "
                         "(rename one)")
    if key not in _REGISTRY:
        msg = f"unknown scheduler {name!r}; known: {', '.join(available_schedulers())}"
        if _PLUGIN_ERRORS:
            msg += "; plug-in modules that failed to import: " + "; ".join(
                f"{m} ({e})" for m, e in _PLUGIN_ERRORS.items())
        raise KeyError(msg)
    return _REGISTRY[key]


def scheduler_sources(name: str) -> list[str]:
    """Source files of scheduler ``name``: its factory's module and the plug-in modules (:data:`PLUGIN_PACKAGES`)
    that module uses, transitively (e.g. ``magma``: magma.py, ga_ops.py, edf.py, prema.py, sa_heuristic.py).

    The workflow's evaluation jobs depend on their content (:func:`scheduler_code_digest`), so editing a
    scheduler reruns its evaluations and no others. Paths are relative to the working directory when inside it. Raises like :func:`scheduler_factory`.
    """
    import inspect
    import sys

    def plugin(mod: str) -> bool:
        return any(mod == p or mod.startswith(p + ".") for p in PLUGIN_PACKAGES)

    first = _origin(scheduler_factory(name))
    seen, todo, files = {first}, [first], set()
    while todo:
        mod = sys.modules.get(todo.pop())
        if mod is None or not getattr(mod, "__file__", None):
            continue
        files.add(Path(mod.__file__).resolve())
        for v in list(vars(mod).values()):
            dep = v.__name__ if inspect.ismodule(v) else getattr(v, "__module__", None)
            if isinstance(dep, str) and dep not in seen and plugin(dep):
                seen.add(dep)
                todo.append(dep)
    cwd = Path.cwd().resolve()
    return sorted(str(f.relative_to(cwd)) if f.is_relative_to(cwd) else str(f) for f in files)


def scheduler_code_digest(name: str) -> str:
    """A digest of the content of :func:`scheduler_sources` (paths and bytes): the workflow passes it as a
    parameter of the scheduler's evaluation jobs, so that editing a scheduler's code reruns its evaluations,
    while a checkout or copy that changes only the files' times does not."""
    import hashlib

    h = hashlib.sha256()
    for f in scheduler_sources(name):
        h.update(Path(f).name.encode() + b"\0" + Path(f).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def get_scheduler(name: str, **kwargs: Any) -> Scheduler:
    """A new scheduler by registered name, e.g. ``get_scheduler("fcfs-h")``.

    A scheduler that does not set :attr:`Scheduler.name` is given ``name``, so that results and errors
    name it.

    Raises:
        KeyError: no scheduler has that name (the message lists the known ones, and plug-in modules
            that failed to import).
        ValueError: two plug-in modules registered that name.
    """
    return named_as(scheduler_factory(name)(**kwargs), name)


def named_as(scheduler: Scheduler, name: str) -> Scheduler:
    """``scheduler``, with its ``name`` set to ``name`` if it kept the base class's default."""
    if getattr(scheduler, "name", Scheduler.name) == Scheduler.name:
        try:
            scheduler.name = name
        except AttributeError:  # a read-only name: leave it
            pass
    return scheduler


register_scheduler("random", RandomScheduler)
