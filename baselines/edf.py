"""EDF-H: earliest absolute deadline first, with the earliest-finish SA heuristic.

Source: earliest deadline first is the classic deadline-driven priority rule of
C. L. Liu and J. W. Layland, "Scheduling Algorithms for Multiprogramming in a
Hard-Real-Time Environment", JACM 20(1), 1973. It is not one of the RELMAS
paper's baselines (DAC 2024, section 5.1); the toolkit adds it because it is a
strong, simple, deadline-aware reference that RELMAS must also be measured
against (the probes of ``LEARNING.md`` found it well above FCFS-H), and because
the RELMAS policy itself sees its ready queue sorted by absolute deadline.

Adaptations to layer-granular, non-preemptive, multi-SA online scheduling:

* Priority is per sub-job (SJ): every SJ inherits its job's absolute deadline
  ``d_j = a_j + q_j``; SJs of equal deadline are ordered by job arrival, then job
  index, then layer index (so a job's layers keep their topological order).
  Priorities are ranks: ``R - 1`` for the first SJ down to ``0`` for the last.
* EDF is applied per scheduling period to the whole ready queue; an SA picks its
  highest-priority ready SJ whenever it is idle; there is no preemption, so a
  running SJ is never displaced by a later, more urgent one (non-preemptive EDF).
* Jobs past their deadline are not in the queue (the simulator drops them); EDF
  keeps serving jobs that can no longer make their deadline until they expire,
  which is the known weakness of EDF under overload.
* The SA of each SJ comes from the shared "-H" heuristic
  (:func:`baselines.sa_heuristic.heuristic_sa`), visited in EDF order: the SA of
  earliest estimated finish given each SA's free time (including SJs already
  placed this period) and the estimated finish of the SJ's predecessors.

Deterministic; no parameters.
"""
from __future__ import annotations

import numpy as np

from baselines.sa_heuristic import check_tie_break, heuristic_sa
from relmas.scheduler import ReadyQueue, Scheduler
from relmas.typed_params import checked_params

__all__ = ["edf_priority", "EDFH"]


def edf_priority(rq: ReadyQueue) -> np.ndarray:
    """float64 [R]: ``R - 1`` for the SJ of earliest deadline down to 0 (ties: arrival, job, layer)."""
    order = np.lexsort((rq.layer, rq.job, rq.arrival, rq.deadline))
    prio = np.empty(rq.size)
    prio[order] = np.arange(rq.size - 1, -1, -1, dtype=np.float64)
    return prio


@checked_params
class EDFH(Scheduler):
    """EDF-H: earliest-absolute-deadline-first priorities, earliest-finish SA heuristic.

    Args:
        tie_break: the SA heuristic's tie-break, ``"index"`` (default), ``"affinity"`` or ``"fit"``
            (:mod:`baselines.sa_heuristic`).
        tie_tolerance: SAs whose estimated finish is within this fraction of the SJ's fastest
            latency of the earliest count as tied (default 0: exact ties).
    """

    name = "edf-h"

    def __init__(self, tie_break: str = "index", tie_tolerance: float = 0.0):
        self.tie_break, self.tie_tolerance = check_tie_break(tie_break, tie_tolerance)

    def schedule(self, rq: ReadyQueue) -> tuple[np.ndarray, np.ndarray]:
        """EDF priorities and the -H SA of every SJ of ``rq``."""
        prio = edf_priority(rq)
        return prio, heuristic_sa(rq, prio, self.tie_break, self.tie_tolerance)
