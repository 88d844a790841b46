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

from baselines.sa_heuristic import TIE_BREAKS, heuristic_sa
from relmas.scheduler import ReadyQueue, Scheduler, register_scheduler


def fcfs_priority(rq: ReadyQueue) -> np.ndarray:
    """float64 [R]: R-1 for the first SJ in (arrival, job, layer) order down to 0 for the last."""
    order = np.lexsort((rq.layer, rq.job, rq.arrival))
    prio = np.empty(rq.size)
    prio[order] = np.arange(rq.size - 1, -1, -1, dtype=np.float64)
    return prio


class FCFSH(Scheduler):
    """FCFS-H (RELMAS paper section 5.1): FCFS priorities, earliest-finish SA.

    Args:
        tie_break: the SA heuristic's tie-break, ``"index"`` (default) or ``"affinity"``
            (:mod:`baselines.sa_heuristic`).
    """

    name = "fcfs-h"

    def __init__(self, tie_break: str = "index"):
        if tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {', '.join(TIE_BREAKS)}, got {tie_break!r}")
        self.tie_break = tie_break

    def schedule(self, rq: ReadyQueue) -> tuple[np.ndarray, np.ndarray]:
        prio = fcfs_priority(rq)
        return prio, heuristic_sa(rq, prio, self.tie_break)


register_scheduler("fcfs-h", FCFSH)
