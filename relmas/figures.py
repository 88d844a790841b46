"""The paper's figures from the result CSVs (Fig. 3 SLA, Fig. 4 bandwidth, Fig. 5 energy overhead).

Every figure is drawn from measured rows only; error bars are 95% Student-t
confidence intervals over seeds. Each is written as PNG and PDF, atomically.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .io import atomic_path  # noqa: E402
from .stats import summarise  # noqa: E402

WORKLOADS = ["light", "heavy", "mixed"]
QOS = ["low", "medium", "high"]
#: Display order and colours (the learned schedulers last, in strong colours).
ORDER = ["fcfs-h", "prema-h", "herald", "edf-h", "magma", "magma-seeded", "relmas-paper", "relmas"]
COLOURS = {
    "fcfs-h": "#9e9e9e", "prema-h": "#bcaaa4", "herald": "#90caf9", "edf-h": "#a5d6a7",
    "magma": "#ffb74d", "magma-seeded": "#ef6c00", "relmas-paper": "#ce93d8", "relmas": "#6a1b9a",
    "random": "#eeeeee",
}


def scheduler_order(names) -> list[str]:
    """Known schedulers in display order, then any others alphabetically."""
    names = list(dict.fromkeys(names))
    return [n for n in ORDER if n in names] + sorted(n for n in names if n not in ORDER)


def _save(fig: plt.Figure, stem: Path) -> list[Path]:
    out = []
    for ext in ("png", "pdf"):
        path = stem.with_suffix(f".{ext}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight")
        out.append(path)
    plt.close(fig)
    return out


def fig3_sla(sla: pd.DataFrame, stem: Path) -> list[Path]:
    """Fig. 3: SLA satisfaction rate per workload (panel), QoS level (group) and scheduler (bar)."""
    s = summarise(sla, ["workload", "qos", "scheduler"])
    scheds = scheduler_order(sla["scheduler"])
    workloads = [w for w in WORKLOADS if w in set(sla["workload"])] or sorted(set(sla["workload"]))
    fig, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 3.4), sharey=True, squeeze=False)
    width = 0.8 / max(len(scheds), 1)
    for ax, w in zip(axes[0], workloads):
        qos = [q for q in QOS if q in set(s[s.workload == w]["qos"])]
        x = np.arange(len(qos))
        for k, name in enumerate(scheds):
            sub = s[(s.workload == w) & (s.scheduler == name)].set_index("qos").reindex(qos)
            ax.bar(x + (k - (len(scheds) - 1) / 2) * width, sub["mean"], width, yerr=sub["ci95"],
                   color=COLOURS.get(name, None), edgecolor="black", linewidth=0.4, capsize=1.5, label=name)
        ax.set_xticks(x, [f"QoS-{q.capitalize()}" for q in qos])
        ax.set_title(f"{w.capitalize()} workload")
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("SLA satisfaction rate")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(scheds), bbox_to_anchor=(0.5, 1.08), frameon=False)
    n = sla.groupby(["workload", "qos", "scheduler"]).size()
    seeds = f"{n.min()}" if n.min() == n.max() else f"{n.min()}-{n.max()}"
    fig.text(0.99, -0.02, f"mean and 95% CI over {seeds} seeds", ha="right", fontsize=7)
    return _save(fig, stem)


def fig4_bandwidth(bw: pd.DataFrame, stem: Path) -> list[Path]:
    """Fig. 4: SLA rate normalised to each scheduler's best, against DRAM bandwidth."""
    scheds = scheduler_order(bw["scheduler"])
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for name in scheds:
        sub = bw[bw.scheduler == name].sort_values("bandwidth_gbps", ascending=False)
        ax.errorbar(sub["bandwidth_gbps"], sub["sla_rate_normalised"], yerr=sub["ci95_normalised"], marker="o",
                    ms=3, capsize=2, color=COLOURS.get(name), label=name)
    ax.set_xlabel("DRAM bandwidth (GB/s)")
    ax.set_ylabel("SLA rate / own best")
    ax.invert_xaxis()
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Light workload, bandwidth sensitivity")
    return _save(fig, stem)


def fig5_energy(overhead: pd.DataFrame, stem: Path) -> list[Path]:
    """Fig. 5: energy overhead (%) of running the policy on a Simba Small, per hidden size and period."""
    periods = sorted(overhead["period_cycles"].unique())
    hidden = sorted(overhead["hidden"].unique())
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    width = 0.8 / max(len(periods), 1)
    x = np.arange(len(hidden))
    cmap = plt.get_cmap("viridis")
    for k, p in enumerate(periods):
        s = summarise(overhead[overhead.period_cycles == p], ["hidden"], "overhead_percent").set_index("hidden")
        s = s.reindex(hidden)
        ax.bar(x + (k - (len(periods) - 1) / 2) * width, s["mean"], width, yerr=s["ci95"], capsize=2,
               color=cmap(k / max(len(periods) - 1, 1)), label=f"T_s = {int(p):,} cycles")
    ax.set_xticks(x, [str(h) for h in hidden])
    ax.set_xlabel("LSTM hidden size h")
    ax.set_ylabel("energy overhead (% of workload)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Policy on a Simba Small SA, Mixed workload")
    return _save(fig, stem)
