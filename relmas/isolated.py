"""Isolated latency of a model: alone on the system, each layer on its fastest SA.

This is the reference for QoS budgets (SPEC section 4, after PREMA): the model
runs with nothing else on the system; every layer goes to the SA with its
fewest stall-free cycles, layers start in layer order as soon as their
predecessors are done and their SA is free, and bandwidth contention comes only
from the model's own layers running at the same time (parallel branches).
"""
from __future__ import annotations

import numpy as np

from .costs import ModelCost
from .sim.kernel import run_schedule


def predecessor_csr(preds: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """CSR (pointer, index) arrays of a predecessor list."""
    ptr = np.zeros(len(preds) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(p) for p in preds])
    idx = np.array([q for p in preds for q in p], dtype=np.int64)
    return ptr, idx


def isolated_latency(model: ModelCost, bandwidth: float) -> float:
    """Cycles from start to the last layer's finish, the model alone on the system."""
    L = model.num_layers
    sa = np.argmin(model.cycles, axis=1).astype(np.int64)
    rows = np.arange(L)
    ptr, idx = predecessor_csr(model.preds)
    res = run_schedule(
        n_sa=model.cycles.shape[1], sa=sa, priority=-rows.astype(np.float64),
        work=model.cycles[rows, sa], bw=model.bw[rows, sa], release=np.zeros(L), deadline=np.full(L, np.inf),
        pred_ptr=ptr, pred_idx=idx, bandwidth=bandwidth,
    )
    if np.isnan(res.finish).any():  # cannot happen with no deadlines; guards a broken dependency table
        raise RuntimeError(f"model {model.name}: some layers never ran in isolation")
    return float(res.finish.max())
