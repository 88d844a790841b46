"""What a backend cannot evaluate on an SA class whatever the layer, known without running it.

``relmas validate`` reports these for the default backend and ``relmas
characterize`` for the one it uses, before any evaluation, naming the field of
the class file. They live apart from the backend modules because the source of
those is part of the characterisation cache key (``table.backend_code_hash``),
and a check that changes no result must not invalidate the cache. Failures
that depend on the layer are reported by ``build_table`` when they happen.
"""
from __future__ import annotations

from typing import Callable

from ..schema import Dataflow, SAClass

#: Default backend of ``relmas characterize``, the one ``relmas validate`` checks classes for.
DEFAULT_BACKEND = "zigzag"


def zigzag_problems(sa: SAClass) -> list[tuple[str, str]]:
    """What ``zigzag_backend.spatial_mapping_for`` refuses: the dataflows it has no mapping for, RS vector PEs."""
    supported = (Dataflow.ROW_STATIONARY, Dataflow.WEIGHT_STATIONARY)
    if sa.dataflow not in supported:
        return [("dataflow", f"the zigzag backend has no spatial mapping for '{sa.dataflow.value}' "
                             f"(supported: {', '.join(d.value for d in supported)})")]
    if sa.dataflow == Dataflow.ROW_STATIONARY and sa.macs_per_pe > 1:
        return [("macs_per_pe", f"the zigzag backend maps a row-stationary class with one MAC per PE, "
                                f"got {sa.macs_per_pe}")]
    return []


#: Backend name -> its checks; a backend without an entry has none.
CHECKS: dict[str, Callable[[SAClass], list[tuple[str, str]]]] = {"zigzag": zigzag_problems}


def class_problems(backend: str, sa: SAClass) -> list[tuple[str, str]]:
    """``(field, reason)`` pairs for what ``backend`` cannot evaluate on ``sa``; empty when nothing is known."""
    check = CHECKS.get(backend)
    return check(sa) if check else []
