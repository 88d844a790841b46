"""``relmas report``: outputs/report.md with every table and figure beside the paper's claims."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..io import read_csv, write_text
from ..report import build_report
from .common import output_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write the Markdown report from the results and figures",
                       description="Assemble outputs/report.md: Fig. 3-5 with their tables, mean and 95% CI over "
                       "seeds, RELMAS's improvement over each baseline beside the paper's, energy overhead, MACs per "
                       "policy step.")
    p.add_argument("--sla", type=Path, required=True)
    p.add_argument("--bandwidth", type=Path, default=None)
    p.add_argument("--overhead", type=Path, default=None)
    p.add_argument("--figures", type=Path, default=Path("outputs/figures"))
    p.add_argument("--info", type=Path, default=None, help="JSON with extra notes (list under `notes`)")
    p.add_argument("--policies", type=Path, default=None,
                   help="training runs folder (outputs/policies): adds the training summary, learning curves and "
                   "MACs per policy step")
    p.add_argument("--config", type=Path, default=None,
                   help="configuration file, for the preset and system names (the report says `not given` without it)")
    p.add_argument("--preset", default=None, help="preset of the configuration")
    p.add_argument("--table", type=Path, default=None, help="characterisation table used (its backend and objective)")
    p.add_argument("-o", "--output", type=output_file, required=True)
    p.set_defaults(func=run)


def _info(args: argparse.Namespace) -> dict:
    """Run metadata for the report: preset, system, table backend/objective, MACs per policy step."""
    from characterize.errors import InputError

    info: dict = {}
    if args.info:
        try:
            info = json.loads(args.info.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(args.info, "", f"not a readable JSON file: {exc}") from None
    if args.config:
        from ..config import load_config

        cfg = load_config(args.config, args.preset)
        info.setdefault("preset", cfg.get("preset"))
        info.setdefault("system", cfg.get("system"))
        info.setdefault("train_minutes", (cfg.get("train") or {}).get("max_minutes"))
        info.setdefault("train_clock", (cfg.get("train") or {}).get("budget_clock", "cpu"))
        info.setdefault("learned", cfg.get("learned_schedulers") or {})
    if args.table:
        info.setdefault("table", str(args.table))
        head = read_csv(args.table, nrows=1)
        for col in ("backend", "objective"):
            if col in head.columns and len(head):
                info.setdefault(col, str(head[col].iloc[0]))
    if args.policies:
        from ..learning_curves import read_runs, run_summary
        from ..policy import Actor, load_policy, macs_per_step

        runs = read_runs(args.policies)
        info["training"] = run_summary(runs) if len(runs) else None
        macs = {}
        for folder in sorted(p for p in args.policies.iterdir() if p.is_dir()) if args.policies.is_dir() else []:
            best = sorted(folder.glob("*_*/best.pt"))
            if best:  # every scenario of a scheduler has the same network sizes
                actor, spec, _ = load_policy(best[0])
                macs[folder.name] = {"hidden": int(actor.hidden), "features": int(spec.num_features),
                                     "macs": macs_per_step(actor)["total"]}
                info.setdefault("macs_per_step_h256",
                                macs_per_step(Actor(spec.num_features, spec.num_outputs, 256))["total"])
        info["macs"] = macs
    return info


def run(args: argparse.Namespace) -> int:
    sla = read_csv(args.sla)  # inputs first: a missing one stops the command before the slower metadata
    bandwidth = read_csv(args.bandwidth) if args.bandwidth else None
    overhead = read_csv(args.overhead) if args.overhead else None
    info = _info(args)
    figs = {}
    for key, stem in (("fig3", "fig3_sla"), ("fig4", "fig4_bandwidth"), ("fig5", "fig5_energy_overhead"),
                      ("curves", "learning_curves")):
        png = args.figures / f"{stem}.png"
        if png.is_file():
            figs[key] = os.path.relpath(png, args.output.parent)
    text = build_report(sla, bandwidth, overhead, figs, info)
    write_text(args.output, text)
    print(f"wrote {args.output}")
    return 0
