"""The RELMAS reward (paper section 4.2).

For the decision taken at ``t`` on ready queue RQ_t::

    r_t = sum_{l in RQ_t} Delta_{t,l} * ( A_{t,l} + gamma * ((a_l + q_l) - f_l) / q_l )

    Delta_{t,l} = 1      if f_l < t + T_s      (the outcome falls in the next period)
                = delta  otherwise              (later events weigh less)
    A_{t,l}     = alpha  if f_l <= a_l + q_l    (the SJ finishes by its job's deadline)
                = -beta  otherwise

``a_l`` and ``q_l`` are the arrival and latency budget of SJ l's job (so
``a_l + q_l`` is its absolute deadline) and ``f_l`` is l's finish time when the
period's whole schedule is simulated out (no new arrivals, no new decisions;
:attr:`relmas.sim.simulator.StepInfo.finish_out`). The paper's coefficients:
alpha = 0.10, beta = 0.11, gamma (slack weight) = 0.05, delta = 0.01.

Dropped SJs. The simulator drops an SJ that has not started by its job's
deadline, so its ``f_l`` is undefined (NaN); the paper's simulator has no drops
and always has an ``f_l``. A dropped SJ is a miss (``A = -beta``); its event
time is the deadline (``Delta = 1`` if the deadline falls before ``t + T_s``),
and its normalised slack is ``dropped_slack`` (default -1: as if it finished one
whole budget late), so that giving up on an SJ is never cheaper than running it
late. This is the only addition to the paper's formula, and a config value.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class RewardConfig:
    """Coefficients of the reward (defaults: paper section 5).

    Attributes:
        alpha: deadline-hit reward A for an SJ finishing by its deadline.
        beta: deadline-miss penalty (A = -beta).
        slack_weight: gamma, weight of the normalised slack ((a + q) - f) / q.
        delta: weight Delta of SJs whose finish falls after the next period.
        dropped_slack: normalised slack given to a dropped SJ (undefined in the paper).
    """

    alpha: float = 0.10
    beta: float = 0.11
    slack_weight: float = 0.05
    delta: float = 0.01
    dropped_slack: float = -1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sj_rewards(finish: np.ndarray, arrival: np.ndarray, deadline: np.ndarray, now: float, period: float,
               cfg: RewardConfig = RewardConfig()) -> np.ndarray:
    """Per-SJ terms ``Delta (A + gamma * slack)`` of the reward; their sum is ``r_t``.

    Args:
        finish: float [R], f_l (NaN or inf: dropped, never finishes).
        arrival: float [R], a_l (arrival of the SJ's job).
        deadline: float [R], a_l + q_l (absolute deadline of the SJ's job).
        now: t, the decision time.
        period: T_s.
        cfg: coefficients.

    Returns:
        float64 [R].
    """
    f = np.asarray(finish, dtype=np.float64)
    a = np.asarray(arrival, dtype=np.float64)
    d = np.asarray(deadline, dtype=np.float64)
    q = d - a
    if np.any(q <= 0):
        raise ValueError("every SJ needs a positive latency budget (deadline > arrival)")
    dropped = ~np.isfinite(f)
    f_ev = np.where(dropped, d, f)
    hit = ~dropped & (f <= d)
    A = np.where(hit, cfg.alpha, -cfg.beta)
    slack = np.where(dropped, cfg.dropped_slack, (d - f_ev) / q)
    Delta = np.where(f_ev < now + period, 1.0, cfg.delta)
    return Delta * (A + cfg.slack_weight * slack)


def reward(finish: np.ndarray, arrival: np.ndarray, deadline: np.ndarray, now: float, period: float,
           cfg: RewardConfig = RewardConfig()) -> float:
    """The paper's r_t for one decision (sum of :func:`sj_rewards`); 0.0 for an empty queue."""
    if np.asarray(finish).size == 0:
        return 0.0
    return float(sj_rewards(finish, arrival, deadline, now, period, cfg).sum())


def step_reward(info: Any, cfg: RewardConfig = RewardConfig()) -> float:
    """r_t of a :class:`relmas.sim.simulator.StepInfo` (needs ``finish_out``)."""
    if info.finish_out is None:
        raise ValueError("the step was run without simulate_out; the reward needs f_l")
    rq = info.rq
    return reward(info.finish_out, rq.arrival, rq.deadline, float(rq.now), float(rq.period), cfg)
