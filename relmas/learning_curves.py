"""Learning curves of the workflow's training runs: validation SLA rate against wall time.

The workflow trains one policy per (learned scheduler, scenario) into
``outputs/policies/<scheduler>/<workload>_<qos>/``; each run folder's
``metrics.csv`` (written by :func:`relmas.ddpg.train`) has one row per episode
with the wall time since the run started and, at validation points, the
validation SLA rate. This module gathers them into one table, draws the curves
of every recipe per scenario side by side, and summarises each run.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from characterize.errors import InputError

from .figures import COLOURS, QOS, WORKLOADS, _save, plt, scheduler_order


def read_runs(policies_dir: str | Path) -> pd.DataFrame:
    """Every ``<scheduler>/<workload>_<qos>/metrics.csv`` under ``policies_dir`` as one table.

    Columns: scheduler, workload, qos, then those of metrics.csv (update, phase,
    wall_s, val_sla, best_val_sla, ...). Empty when there is no run.
    """
    root = Path(policies_dir)
    frames = []
    for path in sorted(root.glob("*/*_*/metrics.csv")):
        scenario = path.parent.name
        workload, _, qos = scenario.rpartition("_")
        try:
            df = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(path, "", f"not a readable metrics CSV: {exc}") from None
        for col in ("update", "wall_s", "val_sla"):
            if col not in df.columns:
                raise InputError(path, col, "column missing (not a metrics.csv written by `relmas train`)")
        df.insert(0, "qos", qos)
        df.insert(0, "workload", workload)
        df.insert(0, "scheduler", path.parent.parent.name)
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["scheduler", "workload", "qos", "update", "wall_s", "val_sla"])
    return pd.concat(frames, ignore_index=True)


def _clock(runs: pd.DataFrame) -> str:
    """``cpu_s`` (the training budget's clock) when the runs logged it, else ``wall_s``."""
    return "cpu_s" if "cpu_s" in runs.columns and runs["cpu_s"].notna().any() else "wall_s"


def run_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: wall and CPU minutes, updates, episodes, best validation SLA rate and when it was
    reached (``best_at_min``, on the budget's clock: CPU minutes when logged)."""
    clock = _clock(runs)
    rows = []
    for (s, w, q), g in runs.groupby(["scheduler", "workload", "qos"], sort=False):
        val = g.dropna(subset=["val_sla"])
        best = val.loc[val["val_sla"].idxmax()] if len(val) else None
        rows.append({
            "scheduler": s, "workload": w, "qos": q,
            "wall_min": float(g["wall_s"].max()) / 60.0,
            "cpu_min": float(g["cpu_s"].max()) / 60.0 if clock == "cpu_s" else math.nan,
            "updates": int(g["update"].max()),
            "episodes": int(g["episode"].max()) if "episode" in g.columns and g["episode"].notna().any() else 0,
            "initial_val_sla": float(val["val_sla"].iloc[0]) if len(val) else math.nan,
            "best_val_sla": float(best["val_sla"]) if best is not None else math.nan,
            "best_at_min": float(best[clock]) / 60.0 if best is not None else math.nan,
            "best_phase": str(best["phase"]) if best is not None and "phase" in best else "",
        })
    return pd.DataFrame(rows)


def learning_curves_figure(runs: pd.DataFrame, stem: Path) -> list[Path]:
    """Grid of scenarios (rows: workload sets, columns: QoS levels); validation SLA rate against
    training minutes, one line per learned scheduler (recipe). Written as PNG and PDF.

    The x axis is the training process's CPU time when the runs logged it (the clock of their
    budget; equal to wall time for a run that had a core to itself, as on an idle machine), else
    wall time."""
    clock = _clock(runs)
    workloads = [w for w in WORKLOADS if w in set(runs["workload"])] or sorted(set(runs["workload"]))
    qos = [q for q in QOS if q in set(runs["qos"])] or sorted(set(runs["qos"]))
    fig, axes = plt.subplots(len(workloads), len(qos), figsize=(3.4 * len(qos), 2.6 * len(workloads)),
                             sharey=True, squeeze=False)
    for i, w in enumerate(workloads):
        for j, q in enumerate(qos):
            ax = axes[i][j]
            for name in scheduler_order(runs["scheduler"]):
                g = runs[(runs.scheduler == name) & (runs.workload == w) & (runs.qos == q)].dropna(subset=["val_sla"])
                if len(g):
                    ax.plot(g[clock] / 60.0, g["val_sla"], marker="o", markersize=2.5, linewidth=1.2,
                            color=COLOURS.get(name), label=name)
            ax.set_title(f"{w.capitalize()} / QoS-{q.capitalize()}", fontsize=9)
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
            if i == len(workloads) - 1:
                ax.set_xlabel("training time (CPU min)" if clock == "cpu_s" else "training wall time (min)")
            if j == 0:
                ax.set_ylabel("validation SLA rate")
    handles, labels = [], []
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=len(labels), bbox_to_anchor=(0.5, 1.03), frameon=False)
    fig.tight_layout()
    return _save(fig, stem)
