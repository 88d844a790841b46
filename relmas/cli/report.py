"""``relmas report``: outputs/report.md with every table and figure beside the paper's claims."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pandas as pd

from ..io import write_text
from ..report import build_report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write the Markdown report from the results and figures",
                       description="Assemble outputs/report.md: Fig. 3-5 with their tables, mean and 95%% CI over "
                       "seeds, RELMAS's improvement over each baseline beside the paper's, energy overhead, MACs per "
                       "policy step.")
    p.add_argument("--sla", type=Path, required=True)
    p.add_argument("--bandwidth", type=Path, default=None)
    p.add_argument("--overhead", type=Path, default=None)
    p.add_argument("--figures", type=Path, default=Path("outputs/figures"))
    p.add_argument("--info", type=Path, default=None, help="JSON with preset, system, table, macs_per_step, notes")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    info = json.loads(args.info.read_text()) if args.info else {}
    figs = {}
    for key, stem in (("fig3", "fig3_sla"), ("fig4", "fig4_bandwidth"), ("fig5", "fig5_energy_overhead")):
        png = args.figures / f"{stem}.png"
        if png.is_file():
            figs[key] = os.path.relpath(png, args.output.parent)
    text = build_report(pd.read_csv(args.sla),
                        pd.read_csv(args.bandwidth) if args.bandwidth else None,
                        pd.read_csv(args.overhead) if args.overhead else None, figs, info)
    write_text(args.output, text)
    print(f"wrote {args.output}")
    return 0
