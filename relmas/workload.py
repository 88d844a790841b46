"""Workloads: online inference requests (jobs) with arrival times and deadlines (SPEC section 4).

A workload set (Light, Heavy, Mixed) is a weighted mix of models. Requests
arrive with Pareto-distributed inter-arrival times; each asks for one model of
the set, drawn by weight. Its latency budget is the QoS factor times the
model's isolated latency (alone on the system, each layer on its fastest SA,
contention only from itself); QoS-Low is 1.2x the QoS-Medium factor and
QoS-High 0.8x. The Pareto scale is either given in cycles or derived from a
target offered load (the fastest-SA work of the mean request divided by the
mean inter-arrival time and by the number of SAs), so that the scenario keeps
its difficulty when users add models or accelerators.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import (BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt, PrivateAttr,
                      model_validator)

from characterize.errors import InputError
from characterize.schema import load_yaml, validate_as

from .costs import SystemCosts

QOS_LEVELS = ("low", "medium", "high")


@dataclass
class Workload:
    """A sequence of jobs, sorted by arrival.

    Attributes:
        models: model names; ``model`` indexes into this list.
        model: int64 [J], model index of each job.
        arrival: float64 [J], arrival time in cycles (non-decreasing).
        deadline: float64 [J], absolute deadline in cycles (arrival + budget).
        meta: how it was made (workload set, QoS, seed, Pareto parameters, offered load, ...).
    """

    models: list[str]
    model: np.ndarray
    arrival: np.ndarray
    deadline: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_jobs(self) -> int:
        return int(self.model.shape[0])

    @property
    def budget(self) -> np.ndarray:
        """Latency budget q_j = deadline - arrival."""
        return self.deadline - self.arrival

    def to_dict(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "models": list(self.models),
            "jobs": [
                {"model": self.models[int(m)], "arrival": float(a), "deadline": float(d)}
                for m, a, d in zip(self.model, self.arrival, self.deadline)
            ],
        }


# --------------------------------------------------------------------------- #
# Configuration


class WorkloadConfig(BaseModel):
    """How to generate one scenario's workload (one entry of ``workloads`` in config)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mix: dict[str, PositiveFloat] = Field(min_length=1, description="model name -> weight")
    jobs: PositiveInt = 200
    pareto_shape: PositiveFloat = 2.0
    scale_cycles: PositiveFloat | None = Field(default=None, description="Pareto scale x_m in cycles")
    load: PositiveFloat | None = Field(default=None, description="target offered load; sets the scale")
    qos_factor_medium: PositiveFloat = 2.0
    qos_scale: dict[Literal["low", "medium", "high"], PositiveFloat] = Field(
        default_factory=lambda: {"low": 1.2, "medium": 1.0, "high": 0.8})
    start_cycles: NonNegativeFloat = 0.0
    #: Where these settings were read (``config.yaml (workloads.light)``), for errors found later.
    _source: str = PrivateAttr(default="workload settings")

    @model_validator(mode="after")
    def _scale_or_load(self) -> "WorkloadConfig":
        if (self.scale_cycles is None) == (self.load is None):
            raise ValueError("give exactly one of scale_cycles and load")
        if self.pareto_shape <= 1.0:
            raise ValueError("pareto_shape must be > 1 (otherwise the mean inter-arrival time is infinite)")
        return self


def isolated_latencies(costs: SystemCosts) -> np.ndarray:
    """Isolated latency of every model of ``costs``: alone, each layer on its fastest SA.

    Parallel branches whose fastest SA is the same serialise on it; bandwidth
    contention comes only from the model's own concurrently running layers.
    """
    from .isolated import isolated_latency

    return np.array([isolated_latency(m, costs.bandwidth) for m in costs.models], dtype=np.float64)


def fastest_work(costs: SystemCosts) -> np.ndarray:
    """Sum over layers of the fastest SA's stall-free cycles, per model."""
    return np.array([float(m.cycles.min(axis=1).sum()) for m in costs.models])


def generate(costs: SystemCosts, cfg: WorkloadConfig, qos: str, seed: int, name: str = "") -> Workload:
    """Draw a workload reproducibly from ``seed``.

    The random stream is numpy's PCG64 seeded with ``seed``; model choices and
    inter-arrival times are drawn in one pass, so the same (costs, config, seed)
    always gives the same jobs, whatever the QoS level.
    """
    if qos not in QOS_LEVELS:
        raise InputError("--qos", "", f"unknown QoS level '{qos}' (choose from {', '.join(QOS_LEVELS)})")
    for m in cfg.mix:
        if m not in costs._index:
            table = f"the table {costs.table}" if costs.table else "the table"
            raise InputError(cfg._source, f"mix.{m}", f"model '{m}' is not in {table} "
                             f"(models there: {', '.join(mm.name for mm in costs.models)})")
    names = list(cfg.mix)
    weights = np.array([cfg.mix[m] for m in names], dtype=np.float64)
    weights /= weights.sum()
    ids = np.array([costs.model_id(m) for m in names])
    iso_all = isolated_latencies(costs)
    work_all = fastest_work(costs)
    mean_work = float(weights @ work_all[ids])
    a = cfg.pareto_shape
    if cfg.scale_cycles is not None:
        scale = float(cfg.scale_cycles)
    else:
        mean_gap = mean_work / (cfg.load * costs.num_sas)
        scale = mean_gap * (a - 1.0) / a
    mean_gap = scale * a / (a - 1.0)

    rng = np.random.default_rng(seed)
    pick = rng.choice(len(names), size=cfg.jobs, p=weights)
    # numpy's pareto is Lomax (Pareto II); +1 and * x_m gives the classic Pareto with minimum x_m.
    gaps = (rng.pareto(a, size=cfg.jobs) + 1.0) * scale
    arrival = cfg.start_cycles + np.cumsum(gaps) - gaps[0]
    factor = cfg.qos_factor_medium * cfg.qos_scale[qos]
    budget = factor * iso_all[ids[pick]]
    model_names = [costs.models[i].name for i in range(len(costs.models))]
    meta = {
        "name": name, "qos": qos, "seed": int(seed), "jobs": int(cfg.jobs), "mix": dict(cfg.mix),
        "pareto_shape": a, "pareto_scale_cycles": scale, "mean_interarrival_cycles": mean_gap,
        "qos_factor": factor, "system": costs.system, "table": costs.table,
        "offered_load": mean_work / (mean_gap * costs.num_sas),
        "isolated_latency_cycles": {names[k]: float(iso_all[ids[k]]) for k in range(len(names))},
    }
    return Workload(models=model_names, model=ids[pick].astype(np.int64), arrival=arrival.astype(np.float64),
                    deadline=(arrival + budget).astype(np.float64), meta=meta)


def offered_load(costs: SystemCosts, wl: Workload) -> float:
    """Realised offered load: fastest-SA work of all jobs / (span of arrivals x number of SAs)."""
    work = fastest_work(costs)
    ids = np.array([costs.model_id(n) for n in wl.models])
    total = float(work[ids[wl.model]].sum())
    span = float(wl.arrival[-1] - wl.arrival[0]) if wl.num_jobs > 1 else 0.0
    mean_gap = span / (wl.num_jobs - 1) if wl.num_jobs > 1 else float("inf")
    return total / wl.num_jobs / (mean_gap * costs.num_sas)


# --------------------------------------------------------------------------- #
# Files


class _JobEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(min_length=1)
    arrival: NonNegativeFloat
    deadline: PositiveFloat

    @model_validator(mode="after")
    def _after_arrival(self) -> "_JobEntry":
        if self.deadline <= self.arrival:
            raise ValueError("deadline must be after arrival")
        return self


class _WorkloadFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meta: dict[str, Any] = Field(default_factory=dict)
    models: list[str] | None = None
    jobs: list[_JobEntry] = Field(min_length=1)


def save(wl: Workload, path: str | Path) -> None:
    """Write a workload as YAML, atomically."""
    from .io import write_yaml

    write_yaml(path, wl.to_dict())


def load(path: str | Path, costs: SystemCosts | None = None) -> Workload:
    """Read a workload file; with ``costs``, model names index into its models."""
    path = Path(path)
    data = load_yaml(path)
    f = validate_as(_WorkloadFile, data, path)
    names = [m.name for m in costs.models] if costs is not None else (f.models or sorted({j.model for j in f.jobs}))
    index = {n: i for i, n in enumerate(names)}
    for i, j in enumerate(f.jobs):
        if j.model not in index:
            raise InputError(path, f"jobs[{i}].model", f"unknown model '{j.model}' (known: {', '.join(names)})")
    arrival = np.array([j.arrival for j in f.jobs], dtype=np.float64)
    if np.any(np.diff(arrival) < 0):
        k = int(np.argmax(np.diff(arrival) < 0)) + 1
        raise InputError(path, f"jobs[{k}].arrival", "jobs must be sorted by arrival")
    return Workload(models=names, model=np.array([index[j.model] for j in f.jobs], dtype=np.int64),
                    arrival=arrival, deadline=np.array([j.deadline for j in f.jobs], dtype=np.float64),
                    meta=dict(f.meta))
