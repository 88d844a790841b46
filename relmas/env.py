"""A gymnasium environment over the online simulator, with the RELMAS state encoding.

One step is one scheduling period with a non-empty ready queue (RQ): the agent
sees the RQ, returns a priority and SA scores for every SJ, the simulator runs
the period (and any empty-RQ periods up to the next decision), and the next RQ
is observed.

Observation (``SPEC.md`` section 5, RELMAS paper Fig. 2): a ``spaces.Dict`` with

* ``"sj"``: float32 [max_len + 1, F], F = 4 + 2M. Row 0 is the primer: all zeros
  except the M latency slots, which hold the cycles until each SA is free
  (``ReadyQueue.sa_free``, decision overhead included). Rows 1..R are the RQ's SJs
  sorted by absolute deadline (ties: RQ tie order), each
  ``[model id, layer id, deadline, waiting time, M latencies, M bandwidths]``;
  rows after R are zero padding.
* ``"mask"``: float32 [max_len + 1], 1 for the primer and the R SJ rows.

Normalisation: exactly the RELMAS policy's (:func:`relmas.policy.encode`, documented
in docs/relmas.md), so an agent trained here sees what :class:`relmas.policy.RelmasScheduler`'s
actor sees: model id -> (id + 1) / number of models; layer id -> (layer + 1) / its model's layer
count; deadline -> slog((deadline - now) / T_s), the time left in periods; waiting time ->
slog((now - arrival) / T_s); latencies and the primer's free times -> slog(cycles / T_s);
bandwidths -> slog(bytes per cycle / B), with slog(x) = sign(x) log(1 + |x|).

Action: float32 Box [-1, 1] of shape [max_len, 1 + M]. Row k decides the k-th SJ
of the observation (observation row k + 1; the primer has no action): column 0 is
the priority (higher first), columns 1..M the SA scores u_m (SA = argmax).

A queue longer than ``max_len`` shows its ``max_len`` SJs of earliest deadline; the
others get priority -2 (below any action) and an SA from the earliest-finish
heuristic (:mod:`baselines.sa_heuristic`).

Reward: ``reward_fn(step_info)`` if given (the RELMAS reward of the paper uses
``StepInfo.finish_out``: pass ``simulate_out=True``); by default the number of
jobs resolved as hits minus the number resolved as misses since the previous step.

``info`` holds ``"step"`` (the :class:`~relmas.sim.simulator.StepInfo`), ``"hits"`` and
``"misses"`` counts, ``"rq_len"``, ``"residual_obs"`` (the encoded residual RQ, the
next state RELMAS stores, when ``residual_obs=True``) and, on the last step,
``"episode"`` (:meth:`EpisodeResult.to_dict`).
"""
from __future__ import annotations

from typing import Any, Callable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from relmas.costs import SystemCosts
from relmas.policy import EncoderSpec, encode
from relmas.scheduler import ReadyQueue
from relmas.sim.simulator import Simulator, StepInfo
from relmas.workload import Workload

WorkloadSource = Workload | Callable[[np.random.Generator], Workload]
OverheadFn = Callable[[ReadyQueue], "tuple[int, float, float] | None"]


def default_reward(info: StepInfo) -> float:
    """Jobs resolved as hits minus jobs resolved as misses since the previous step."""
    return float(len(info.hits) - len(info.misses))


class RelmasEnv(gym.Env):
    """Online multi-tenant scheduling of a heterogeneous multi-accelerator as a gymnasium Env.

    Args:
        costs: per-layer costs of the models on the system.
        workload: a fixed :class:`Workload`, or a callable drawing one from the env's
            ``np_random`` generator at every :meth:`reset` (so ``reset(seed=s)`` is reproducible).
        period: scheduling period T_s in cycles.
        max_len: the longest RQ shown to the agent (see the module docstring).
        bandwidth: DRAM bandwidth in bytes per cycle; default ``costs.bandwidth``.
        reward_fn: ``StepInfo -> float``; default :func:`default_reward`.
        simulate_out: compute ``StepInfo.finish_out`` at every step (needed by the paper's reward).
        residual_obs: put the encoded residual RQ in ``info["residual_obs"]``.
        decision_overhead: ``ReadyQueue -> (sa, cycles, energy_pj) | None``, charged before
            each observation (so the primer shows it), as ``Scheduler.decision_overhead``.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        costs: SystemCosts,
        workload: WorkloadSource,
        period: float,
        max_len: int = 256,
        bandwidth: float | None = None,
        reward_fn: Callable[[StepInfo], float] | None = None,
        simulate_out: bool = False,
        residual_obs: bool = False,
        decision_overhead: OverheadFn | None = None,
    ):
        super().__init__()
        if max_len < 1:
            raise ValueError("max_len must be >= 1")
        self.costs = costs
        self.sim = Simulator(costs, period, bandwidth)
        self.period = self.sim.period
        self.bandwidth = self.sim.bandwidth
        self.max_len = int(max_len)
        self.num_sas = M = costs.num_sas
        self.num_features = 4 + 2 * M
        self._workload = workload
        self.reward_fn = reward_fn or default_reward
        self.simulate_out = simulate_out
        self.residual_obs = residual_obs
        self.decision_overhead = decision_overhead
        self.encoder = EncoderSpec.from_costs(costs)  # not `spec`: gymnasium.Env.spec is the registry entry
        big = float(np.finfo(np.float32).max)
        self.observation_space = spaces.Dict({
            "sj": spaces.Box(-big, big, shape=(self.max_len + 1, self.num_features), dtype=np.float32),
            "mask": spaces.Box(0.0, 1.0, shape=(self.max_len + 1,), dtype=np.float32),
        })
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self.max_len, 1 + M), dtype=np.float32)
        self._rq: ReadyQueue | None = None
        self._order: np.ndarray | None = None

    # ------------------------------------------------------------------ #

    def order(self, rq: ReadyQueue) -> np.ndarray:
        """RQ positions sorted by absolute deadline (ties: RQ order) — the observation's row order."""
        return np.argsort(rq.deadline, kind="stable")

    def encode(self, rq: ReadyQueue | None) -> dict[str, np.ndarray]:
        """The observation of a ready queue (all zeros but the primer mask for None)."""
        L, F = self.max_len, self.num_features
        sj = np.zeros((L + 1, F), np.float32)
        mask = np.zeros(L + 1, np.float32)
        mask[0] = 1.0
        if rq is None:
            return {"sj": sj, "mask": mask}
        idx = self.order(rq)[:L]
        n = idx.shape[0]
        sj[:n + 1] = encode(rq, self.encoder, subset=idx)[0]  # the policy's encoding of the L most urgent SJs
        mask[1:n + 1] = 1.0
        return {"sj": sj, "mask": mask}

    def decode(self, rq: ReadyQueue, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(priority [R], sa [R])`` in RQ order from an action (see the module docstring)."""
        action = np.asarray(action, np.float64)
        if action.shape != self.action_space.shape:
            raise ValueError(f"action has shape {action.shape}, expected {self.action_space.shape}")
        if np.isnan(action).any():
            raise ValueError("action contains NaN")
        R = rq.size
        order = self.order(rq)
        n = min(R, self.max_len)
        priority = np.full(R, -2.0)
        sa = np.zeros(R, np.int64)
        vis = order[:n]
        priority[vis] = action[:n, 0]
        sa[vis] = np.argmax(action[:n, 1:], axis=1)
        if R > n:
            from baselines.sa_heuristic import heuristic_sa

            rest = order[n:]
            sa[rest] = heuristic_sa(rq, priority)[rest]
        return priority, sa

    def _observe(self) -> ReadyQueue | None:
        rq = self.sim.observe()
        if rq is not None and self.decision_overhead is not None:
            ov = self.decision_overhead(rq)
            if ov is not None:
                self.sim.charge_overhead(*ov)
        return rq

    # ------------------------------------------------------------------ #

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        w = self._workload(self.np_random) if callable(self._workload) else self._workload
        if not isinstance(w, Workload):
            raise TypeError(f"the workload source gave {type(w).__name__}, expected Workload")
        self.sim.reset(w)
        self._rq = self._observe()
        return self.encode(self._rq), {"rq_len": 0 if self._rq is None else self._rq.size}

    def step(self, action: np.ndarray):
        if self._rq is None:
            obs = self.encode(None)
            info: dict[str, Any] = {"hits": 0, "misses": 0, "rq_len": 0}
            if self.sim._w is not None and self.sim.done:
                info["episode"] = self.sim.result().to_dict()
            return obs, 0.0, True, False, info
        rq = self._rq
        priority, sa = self.decode(rq, action)
        st = self.sim.step(priority, sa, simulate_out=self.simulate_out, residual_queue=self.residual_obs)
        reward = float(self.reward_fn(st))
        self._rq = self._observe()
        terminated = self._rq is None
        info = {"step": st, "hits": int(len(st.hits)), "misses": int(len(st.misses)), "rq_len": rq.size}
        if self.residual_obs:
            info["residual_obs"] = self.encode(st.residual_rq)
        if terminated:
            info["episode"] = self.sim.result().to_dict()
        return self.encode(self._rq), reward, terminated, False, info
