"""FCFS-H: first come, first served, with the earliest-finish SA heuristic.

RELMAS (DAC 2024) section 5.1, baseline (1): "FCFS-H, which is the
First-Come-First-Served scheduling algorithm for priority assignment to each
sub-job in the ready queue, paired with an heuristic for the selection of the
sub-accelerator. The heuristic consists in choosing the SA which minimizes the
finish time of the sub-job."

Priority: earlier job arrival first; within a job, earlier layer first; equal
arrivals by job index. The SA comes from :func:`baselines.sa_heuristic.heuristic_sa`
in that priority order. Deterministic (no seed).
"""
from __future__ import annotations

import numpy as np

from baselines.sa_heuristic import check_tie_break, heuristic_sa
from relmas.scheduler import ReadyQueue, Scheduler, register_scheduler
from relmas.typed_params import checked_params


def fcfs_priority(rq: ReadyQueue) -> np.ndarray:
    """float64 [R]: R-1 for the first SJ in (arrival, job, layer) order down to 0 for the last."""
    order = np.lexsort((rq.layer, rq.job, rq.arrival))
    prio = np.empty(rq.size)
    prio[order] = np.arange(rq.size - 1, -1, -1, dtype=np.float64)
    return prio


@checked_params
class FCFSH(Scheduler):
    """FCFS-H (RELMAS paper section 5.1): FCFS priorities, earliest-finish SA.

    Args:
        tie_break: the SA heuristic's tie-break, ``"index"`` (default), ``"affinity"`` or ``"fit"``
            (:mod:`baselines.sa_heuristic`).
        tie_tolerance: SAs whose estimated finish is within this fraction of the SJ's fastest
            latency of the earliest count as tied (default 0: exact ties).
    """

    name = "fcfs-h"

    def __init__(self, tie_break: str = "index", tie_tolerance: float = 0.0):
        self.tie_break, self.tie_tolerance = check_tie_break(tie_break, tie_tolerance)

    def schedule(self, rq: ReadyQueue) -> tuple[np.ndarray, np.ndarray]:
        prio = fcfs_priority(rq)
        return prio, heuristic_sa(rq, prio, self.tie_break, self.tie_tolerance)


register_scheduler("fcfs-h", FCFSH)
