"""Registers the baseline schedulers by name with :mod:`relmas.scheduler`'s registry.

Names (``relmas simulate --scheduler NAME``, ``get_scheduler(NAME, **kwargs)``):

==============  =====================================  ===========================
name            class                                  source
==============  =====================================  ===========================
``edf-h``       :class:`baselines.edf.EDFH`            Liu and Layland 1973 (extra)
``prema-h``     :class:`baselines.prema.PremaH`        Choi and Rhu, HPCA 2020
``herald``      :class:`baselines.herald.HeraldScheduler`  Kwon et al., HPCA 2021
``magma``       :class:`baselines.magma.Magma`         Kao and Krishna, HPCA 2022
``magma-seeded`` :class:`baselines.magma.MagmaSeeded`  MAGMA + EDF-H individual
``magma-multiseed`` :class:`baselines.magma.MagmaMultiSeed`  MAGMA + EDF-H, PREMA-H individuals
==============  =====================================  ===========================

``fcfs-h`` is registered by :mod:`baselines.fcfs`. Importing this module (or any
lookup of an unknown name, which makes :func:`relmas.scheduler.get_scheduler`
import every module of ``baselines``) makes the names resolve. Keyword arguments
of ``get_scheduler`` go to the class constructor (e.g.
``get_scheduler("magma", generations=30, population=30)``).
"""
from __future__ import annotations

from baselines import fcfs  # noqa: F401  (registers fcfs-h)
from baselines.edf import EDFH
from baselines.herald import HeraldScheduler
from baselines.magma import Magma, MagmaMultiSeed, MagmaSeeded
from baselines.prema import PremaH
from relmas.scheduler import register_scheduler

BASELINES: dict[str, type] = {
    "edf-h": EDFH,
    "prema-h": PremaH,
    "herald": HeraldScheduler,
    "magma": Magma,
    "magma-seeded": MagmaSeeded,
    "magma-multiseed": MagmaMultiSeed,
}
"""The schedulers this module registers, by name."""


def register_all() -> None:
    """Register every baseline of :data:`BASELINES` (idempotent)."""
    for name, cls in BASELINES.items():
        register_scheduler(name, cls)


register_all()
