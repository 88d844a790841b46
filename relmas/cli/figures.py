"""``relmas figures``: Fig. 3, 4 and 5 (PNG and PDF) from the result CSVs."""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from ..figures import fig3_sla, fig4_bandwidth, fig5_energy


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("figures", help="draw fig3_sla, fig4_bandwidth, fig5_energy_overhead (PNG + PDF)",
                       description="Draw the paper's figures from outputs/results/*.csv.")
    p.add_argument("--sla", type=Path, required=True)
    p.add_argument("--bandwidth", type=Path, required=True)
    p.add_argument("--overhead", type=Path, required=True)
    p.add_argument("--policies", type=Path, default=None,
                   help="training runs folder (outputs/policies): also draw learning_curves (validation SLA rate "
                   "against wall time, per scenario and recipe)")
    p.add_argument("-o", "--outdir", type=Path, default=Path("outputs/figures"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    paths = []
    paths += fig3_sla(pd.read_csv(args.sla), args.outdir / "fig3_sla")
    paths += fig4_bandwidth(pd.read_csv(args.bandwidth), args.outdir / "fig4_bandwidth")
    paths += fig5_energy(pd.read_csv(args.overhead), args.outdir / "fig5_energy_overhead")
    if args.policies is not None:
        from ..learning_curves import learning_curves_figure, read_runs

        runs = read_runs(args.policies)
        if len(runs):
            paths += learning_curves_figure(runs, args.outdir / "learning_curves")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
