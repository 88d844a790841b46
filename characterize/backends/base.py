"""The interface every characterisation backend implements.

A backend turns (SA class, layer) into a :class:`LayerCost`: stall-free cycles
(as if DRAM bandwidth were unlimited), energy and DRAM traffic. The caller
(:mod:`characterize.table`) caches results by :meth:`Backend.cache_key`, so a
backend must put into ``settings()`` everything that changes its answer.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

from ..schema import Layer, SAClass

OBJECTIVES = ("latency", "energy", "edp")


@dataclass(frozen=True)
class LayerCost:
    """Cost of one layer on one SA class.

    Attributes:
        cycles: stall-free latency in SA cycles.
        energy_pj: total energy (MACs, on-chip buffers, DRAM) in pJ.
        dram_read_bytes: bytes read from DRAM.
        dram_write_bytes: bytes written to DRAM.
        utilization: spatial utilisation of the MAC array in [0, 1] (MACs / (cycles * peak)).
        details: backend-specific extras (mapping summary, per-level energy); not in the table.
    """

    cycles: float
    energy_pj: float
    dram_read_bytes: float
    dram_write_bytes: float
    utilization: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LayerCost":
        return cls(**d)


class Backend(ABC):
    """A per-layer accelerator cost model (ZigZag, Timeloop + Accelergy, ...)."""

    #: short name used on the command line and in the table's ``backend`` column
    name: str = ""

    def __init__(self, objective: str = "latency", **settings: Any):
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective '{objective}' (choose from {', '.join(OBJECTIVES)})")
        self.objective = objective
        self.extra_settings = dict(settings)

    @classmethod
    @abstractmethod
    def check_available(cls) -> None:
        """Raise :class:`~characterize.errors.BackendUnavailable` (saying how to install) if absent."""

    @abstractmethod
    def version(self) -> str:
        """Version string of the underlying tool(s), recorded in the table."""

    def settings(self) -> dict[str, Any]:
        """Everything besides the SA class and the layer shape that changes the result."""
        return {"objective": self.objective, **self.extra_settings}

    @abstractmethod
    def evaluate(self, sa: SAClass, layer: Layer) -> LayerCost:
        """Cost of ``layer`` on ``sa``. Must be deterministic for the same inputs."""
