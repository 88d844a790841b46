"""``outputs/report.md``: every result beside the paper's claim.

Built only from the result CSVs and run metadata the workflow wrote; nothing is
typed in by hand except the paper's own figures, quoted as such.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .figures import QOS, WORKLOADS, scheduler_order
from .stats import geomean_improvement, mean_ci, summarise

#: The paper's claims (Blanco et al., DAC 2024, section 5), quoted for comparison.
PAPER = {
    "herald": "+59.4% (geometric mean)",
    "prema-h": "+109% (geometric mean)",
    "magma": "parity on Light and Heavy; up to +22.5% on Mixed",
    "energy_overhead": "at most 1.3%",
    "macs_per_step": 316_288,
}


def _fmt(m: float, h: float) -> str:
    if m is None or (isinstance(m, float) and math.isnan(m)):
        return "n/a"
    return f"{m:.3f} ± {h:.3f}"


def sla_table(sla: pd.DataFrame) -> str:
    """Markdown table: rows workload/QoS, columns schedulers, mean ± 95% CI."""
    s = summarise(sla, ["workload", "qos", "scheduler"])
    scheds = scheduler_order(sla["scheduler"])
    lines = ["| workload | QoS | " + " | ".join(scheds) + " |", "|---|---|" + "---|" * len(scheds)]
    for w in [x for x in WORKLOADS if x in set(sla.workload)]:
        for q in [x for x in QOS if x in set(sla[sla.workload == w].qos)]:
            cells = []
            sub = s[(s.workload == w) & (s.qos == q)].set_index("scheduler")
            best = sub["mean"].max() if len(sub) else math.nan
            for name in scheds:
                if name in sub.index:
                    r = sub.loc[name]
                    cell = _fmt(r["mean"], r["ci95"])
                    cells.append(f"**{cell}**" if r["mean"] == best else cell)
                else:
                    cells.append("")
            lines.append(f"| {w} | {q} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def improvements(sla: pd.DataFrame, ours: str = "relmas") -> pd.DataFrame:
    """Geometric-mean improvement of ``ours`` over each baseline across scenarios (means over seeds)."""
    means = sla.groupby(["workload", "qos", "scheduler"])["sla_rate"].mean().unstack("scheduler")
    if ours not in means.columns:
        return pd.DataFrame()
    rows = []
    for base in scheduler_order(means.columns):
        if base == ours:
            continue
        both = means[[ours, base]].dropna()
        row: dict[str, Any] = {"baseline": base, "scenarios": len(both),
                               "geomean_improvement": geomean_improvement(both[ours], both[base])}
        for w in WORKLOADS:
            sub = both[both.index.get_level_values("workload") == w]
            row[w] = geomean_improvement(sub[ours], sub[base]) if len(sub) else math.nan
            row[f"{w}_diff"] = float((sub[ours] - sub[base]).mean()) if len(sub) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _pct(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x * 100:+.1f}%"


def _norm(x: float) -> str:
    """A normalised rate, or a dash where the scheduler's best is 0 (nothing to normalise by)."""
    return "—" if x is None or math.isnan(float(x)) else f"{float(x):.2f}"


def build_report(sla: pd.DataFrame, bandwidth: pd.DataFrame | None, overhead: pd.DataFrame | None,
                 figures: dict[str, str], info: dict[str, Any]) -> str:
    """The report's Markdown text."""
    out: list[str] = []
    out.append("# RELMAS reproduction report\n")
    given = lambda key: f"`{info[key]}`" if info.get(key) is not None else "not given"  # noqa: E731
    table = given("table")
    if info.get("backend") is not None or info.get("objective") is not None:
        table += f" (backend {info.get('backend') or 'not given'}, objective {info.get('objective') or 'not given'})"
    out.append(f"Preset {given('preset')}, system {given('system')}, table {table}. "
               f"Every number below was measured by this run of the workflow; the paper's figures are quoted "
               f"from Blanco et al., DAC 2024, for comparison.\n")
    seeds = sorted(sla["seed"].unique())
    out.append("## Fig. 3: SLA satisfaction rate\n")
    out.append(f"Mean ± 95% confidence interval (Student t) over {len(seeds)} evaluation seeds "
               f"({', '.join(map(str, seeds))}), none used in training; best per row in bold.\n")
    if "fig3" in figures:
        out.append(f"![Fig. 3]({figures['fig3']})\n")
    out.append(sla_table(sla) + "\n")

    imp = improvements(sla)
    out.append("## RELMAS against each baseline\n")
    if imp.empty:
        out.append("No `relmas` rows in the results: nothing to compare.\n")
    else:
        out.append("Geometric mean over scenarios of (RELMAS SLA rate / baseline SLA rate) − 1, rates floored at "
                   "0.001; per workload set the same over its QoS levels, and the mean difference in SLA rate.\n")
        out.append("| baseline | scenarios | all | light | heavy | mixed | mean diff light / heavy / mixed | paper |")
        out.append("|---|---|---|---|---|---|---|---|")
        for r in imp.itertuples(index=False):
            diffs = " / ".join(f"{getattr(r, f'{w}_diff'):+.3f}" if not math.isnan(getattr(r, f"{w}_diff"))
                               else "n/a" for w in WORKLOADS)
            out.append(f"| {r.baseline} | {r.scenarios} | {_pct(r.geomean_improvement)} | {_pct(r.light)} | "
                       f"{_pct(r.heavy)} | {_pct(r.mixed)} | {diffs} | {PAPER.get(r.baseline, '—')} |")
        out.append("")
        verdict = []
        m = imp[imp.baseline == "magma"]
        if len(m):
            r = m.iloc[0]
            for w in ("light", "heavy"):
                d = r[f"{w}_diff"]
                if not math.isnan(d):
                    verdict.append(f"{w.capitalize()}: RELMAS − MAGMA = {d:+.3f} SLA rate "
                                   f"({'within 0.02 or better: parity holds' if d >= -0.02 else 'short of parity'}).")
            d = r["mixed_diff"]
            if not math.isnan(d):
                verdict.append(f"Mixed: RELMAS − MAGMA = {d:+.3f} ({_pct(r['mixed'])}; paper: up to +22.5%).")
        if verdict:
            out.append("Against the paper's MAGMA claim: " + " ".join(verdict) + "\n")

    if "sched_wall_s_per_decision" in sla.columns:
        cpu = "sched_cpu_s_per_decision" in sla.columns
        col = "sched_cpu_s_per_decision" if cpu else "sched_wall_s_per_decision"
        out.append("## Decision cost beside quality\n")
        out.append("Time per scheduling decision, measured in the same evaluation runs (one call per period: MAGMA "
                   "runs its whole genetic search, RELMAS one LSTM pass over the queue). "
                   + ("CPU time of the deciding process, which equals its wall time on a core of its own and is not "
                      "inflated when the workflow runs several evaluations per core; wall time beside it. "
                      if cpu else "Wall time. ")
                   + "SLA rate over all scenarios and seeds.\n")
        out.append("| scheduler | SLA rate (all scenarios) | ms per decision" + (" (CPU) | ms (wall)" if cpu else "")
                   + " | decisions |")
        out.append("|---|---|---|" + ("---|" if cpu else "") + "---|")
        for name in scheduler_order(sla["scheduler"]):
            g = sla[sla.scheduler == name]
            m, h = mean_ci(g["sla_rate"])
            wall = f" | {1e3 * g['sched_wall_s_per_decision'].mean():.3f}" if cpu else ""
            out.append(f"| {name} | {_fmt(m, h)} | {1e3 * g[col].mean():.3f}{wall} | {int(g['decisions'].sum())} |")
        out.append("")

    if bandwidth is not None and len(bandwidth):
        out.append("## Fig. 4: bandwidth sensitivity (Light workload)\n")
        if "fig4" in figures:
            out.append(f"![Fig. 4]({figures['fig4']})\n")
        bws = sorted(bandwidth["bandwidth_gbps"].unique(), reverse=True)
        scheds = scheduler_order(bandwidth["scheduler"])
        out.append("SLA rate (and normalised to the scheduler's own best) per DRAM bandwidth in GB/s.\n")
        out.append("| scheduler | " + " | ".join(f"{b:g}" for b in bws) + " |")
        out.append("|---|" + "---|" * len(bws))
        for name in scheds:
            sub = bandwidth[bandwidth.scheduler == name].set_index("bandwidth_gbps")
            cells = [f"{sub.loc[b, 'sla_rate']:.3f} ({_norm(sub.loc[b, 'sla_rate_normalised'])})"
                     if b in sub.index else "" for b in bws]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")

    if overhead is not None and len(overhead):
        out.append("## Fig. 5: energy overhead of the policy\n")
        if "fig5" in figures:
            out.append(f"![Fig. 5]({figures['fig5']})\n")
        s = summarise(overhead, ["hidden", "period_cycles"], "overhead_percent")
        periods = sorted(overhead["period_cycles"].unique())
        out.append("Energy of the policy's LSTM steps on one Simba Small SA, in percent of the workload's execution "
                   f"energy ({overhead['workload'].iloc[0]} workload, steps counted under "
                   f"`{overhead['scheduler'].iloc[0]}`), mean ± 95% CI over seeds.\n")
        out.append("| hidden | " + " | ".join(f"T_s = {int(p):,}" for p in periods) + " |")
        out.append("|---|" + "---|" * len(periods))
        for h in sorted(overhead["hidden"].unique()):
            cells = []
            for p in periods:
                r = s[(s.hidden == h) & (s.period_cycles == p)]
                cells.append(f"{r['mean'].iloc[0]:.3f}% ± {r['ci95'].iloc[0]:.3f}" if len(r) else "")
            out.append(f"| {h} | " + " | ".join(cells) + " |")
        worst = overhead.groupby(["hidden", "period_cycles"])["overhead_percent"].mean().max()
        out.append(f"\nLargest mean overhead: **{worst:.3f}%** (paper: {PAPER['energy_overhead']}).\n")
        if {"decisions", "policy_steps"} <= set(overhead.columns):
            q = overhead.groupby("period_cycles")[["decisions", "policy_steps"]].mean()
            out.append("What drives it: decisions per episode and LSTM steps per decision (queue length + 1), "
                       "mean over seeds: " + "; ".join(
                           f"T_s = {int(p):,}: {r.decisions:,.0f} decisions of {r.policy_steps / r.decisions:.1f} "
                           "steps" for p, r in q.iterrows() if r.decisions > 0) + ".\n")
        if {"fixed_energy_pj", "step_energy_pj"} <= set(overhead.columns):
            c = overhead.groupby("hidden")[["fixed_energy_pj", "step_energy_pj"]].first()
            out.append("Energy of a decision = fixed (the weights loaded into the Simba Small once per decision) + "
                       "steps x per step: " + "; ".join(
                           f"h = {h}: {r.fixed_energy_pj / 1e6:.2f} uJ + {r.step_energy_pj / 1e6:.3f} uJ per step"
                           for h, r in c.iterrows()) + ".\n")

    training = info.get("training")
    if training is not None and len(training):
        out.append("## Training: both recipes, same budget\n")
        learned = info.get("learned") or {}
        if learned:
            out.append("Learned schedulers and their recipes: " + ", ".join(
                f"`{k}` = `relmas train --recipe {v}`" for k, v in learned.items()) +
                (f"; budget {info['train_minutes']} min of "
                 f"{'wall' if info.get('train_clock') == 'wall' else 'CPU'} time per run"
                 if info.get("train_minutes") else "") + ".\n")
        if "curves" in figures:
            out.append(f"![Learning curves]({figures['curves']})\n")
        out.append("Per run: CPU and wall minutes (the budget counts CPU time; wall time is longer when the "
                   "workflow ran several jobs per core), updates (behaviour cloning + DDPG), validation SLA rate "
                   "of the untrained actor and of the best one (the policy kept), and when (CPU minutes) and in "
                   "which phase the best was reached.\n")
        out.append("| scheduler | workload | QoS | CPU min | wall min | updates | initial val SLA | best val SLA "
                   "| best at min | phase |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        order = {n: i for i, n in enumerate(scheduler_order(training["scheduler"]))}
        t = training.assign(_o=training["scheduler"].map(order),
                            _w=training["workload"].map({w: i for i, w in enumerate(WORKLOADS)}),
                            _q=training["qos"].map({q: i for i, q in enumerate(QOS)}))
        for r in t.sort_values(["_o", "_w", "_q"]).itertuples(index=False):
            out.append(f"| {r.scheduler} | {r.workload} | {r.qos} | {r.cpu_min:.1f} | {r.wall_min:.1f} | {r.updates} | "
                       f"{r.initial_val_sla:.3f} | {r.best_val_sla:.3f} | {r.best_at_min:.1f} | {r.best_phase} |")
        out.append("")

    macs = info.get("macs") or {}
    if macs or info.get("macs_per_step"):
        out.append("## MACs per policy step\n")
        out.append("Counted from the trained actors (LSTM gate matmul 4h(F + h), FC h x h/2, FC h/2 x G; "
                   f"paper: {PAPER['macs_per_step']:,} at h = 256).\n")
        for name, m in macs.items():
            out.append(f"- `{name}`: h = {m['hidden']}, F = {m['features']}: **{m['macs']:,}** MACs per step")
        if info.get("macs_per_step_h256"):
            out.append(f"- the paper's h = 256 with this system's F: **{info['macs_per_step_h256']:,}** "
                       f"(the paper's figure is the same formula with F = 20)")
        if info.get("macs_per_step"):
            out.append(f"- {info['macs_per_step']:,} (given)")
        out.append("")

    if info.get("notes"):
        out.append("## Notes\n")
        for n in info["notes"]:
            out.append(f"- {n}")
        out.append("")
    return "\n".join(out)


def normalise_bandwidth(df: pd.DataFrame) -> pd.DataFrame:
    """Per scheduler and bandwidth: mean SLA rate, CI, and both normalised to the scheduler's best mean."""
    s = summarise(df, ["scheduler", "bandwidth_gbps"])
    s = s.rename(columns={"mean": "sla_rate", "ci95": "ci95"})
    best = s.groupby("scheduler")["sla_rate"].transform("max")
    s["sla_rate_normalised"] = np.where(best > 0, s["sla_rate"] / best, np.nan)
    s["ci95_normalised"] = np.where(best > 0, s["ci95"] / best, np.nan)
    s.insert(0, "workload", df["workload"].iloc[0] if len(df) else "")
    return s
