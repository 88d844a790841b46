"""Contention simulator of a multi-tenant multi-accelerator system (SPEC section 3).

* :mod:`relmas.sim.kernel`: the numba event kernel (one schedule, or P candidates at once).
* :mod:`relmas.sim.reference`: a plain-Python event loop of the same semantics, for tests.
* :mod:`relmas.sim.simulator`: the online episode loop (:class:`Simulator`) and its metrics.

``Simulator``, ``EpisodeResult`` and ``StepInfo`` are imported lazily so that
``relmas.scheduler`` (which needs the kernel) and the simulator (which needs the
scheduler interface) can import each other's modules in any order.
"""
from __future__ import annotations

from typing import Any

__all__ = ["Simulator", "EpisodeResult", "StepInfo"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import simulator

        return getattr(simulator, name)
    raise AttributeError(f"module 'relmas.sim' has no attribute {name!r}")
