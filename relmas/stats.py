"""Summary statistics over seeds: mean, 95% confidence interval, geometric-mean improvement."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def mean_ci(values: np.ndarray | list[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval (0 for a single value)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan
    m = float(x.mean())
    if x.size < 2:
        return m, 0.0
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return m, half


def summarise(df: pd.DataFrame, by: list[str], value: str = "sla_rate") -> pd.DataFrame:
    """Per group: n, mean, 95% CI half-width of ``value``."""
    rows = []
    for key, g in df.groupby(by, sort=False):
        m, h = mean_ci(g[value].to_numpy())
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), "n": len(g), "mean": m, "ci95": h})
    return pd.DataFrame(rows)


def geomean_improvement(ours: np.ndarray, theirs: np.ndarray, floor: float = 1e-3) -> float:
    """Geometric mean over scenarios of ours/theirs, minus 1 (0.594 means +59.4%).

    Rates are floored at ``floor`` so that a baseline scoring 0 in one scenario
    does not make the mean infinite (the floor is reported with the figure).
    """
    a = np.maximum(np.asarray(ours, dtype=float), floor)
    b = np.maximum(np.asarray(theirs, dtype=float), floor)
    return float(np.exp(np.mean(np.log(a / b))) - 1.0)
