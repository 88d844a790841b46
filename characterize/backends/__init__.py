"""Characterisation backends behind one interface: ``zigzag`` (default) and ``timeloop``."""
from __future__ import annotations

from .base import OBJECTIVES, Backend, LayerCost

BACKENDS = ("zigzag", "timeloop")


def get_backend(name: str, objective: str = "edp", **settings) -> Backend:
    """Instantiate a backend by name, after checking it is installed."""
    if name == "zigzag":
        from .zigzag_backend import ZigZagBackend as cls
    elif name == "timeloop":
        from .timeloop_backend import TimeloopBackend as cls
    else:
        raise ValueError(f"unknown backend '{name}' (choose from {', '.join(BACKENDS)})")
    cls.check_available()
    return cls(objective=objective, **settings)


__all__ = ["OBJECTIVES", "Backend", "LayerCost", "BACKENDS", "get_backend"]
