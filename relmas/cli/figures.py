"""``relmas figures``: Fig. 3, 4 and 5 (PNG and PDF) from the result CSVs."""
from __future__ import annotations

import argparse
from pathlib import Path

from characterize.errors import InputError

from ..figures import fig3_sla, fig4_bandwidth, fig5_energy
from ..io import read_csv
from .common import output_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("figures", help="draw fig3_sla, fig4_bandwidth, fig5_energy_overhead (PNG + PDF)",
                       description="Draw the paper's figures from outputs/results/*.csv: each figure whose input "
                       "is given (the workflow gives all three).")
    p.add_argument("--sla", type=Path, default=None, help="outputs/results/sla.csv: Fig. 3")
    p.add_argument("--bandwidth", type=Path, default=None, help="outputs/results/bandwidth.csv: Fig. 4")
    p.add_argument("--overhead", type=Path, default=None, help="outputs/results/energy_overhead.csv: Fig. 5")
    p.add_argument("--policies", type=Path, default=None,
                   help="training runs folder (outputs/policies): also draw learning_curves (validation SLA rate "
                   "against wall time, per scenario and recipe)")
    p.add_argument("-o", "--outdir", type=output_dir, default=Path("outputs/figures"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    figures = [(args.sla, fig3_sla, "fig3_sla"), (args.bandwidth, fig4_bandwidth, "fig4_bandwidth"),
               (args.overhead, fig5_energy, "fig5_energy_overhead")]
    if all(path is None for path, _, _ in figures) and args.policies is None:
        raise InputError("figures", "", "nothing to draw: give --sla, --bandwidth, --overhead and/or --policies")
    data = [(path, draw, stem, read_csv(path)) for path, draw, stem in figures if path is not None]  # all read first
    paths = []
    for path, draw, stem, df in data:
        try:
            paths += draw(df, args.outdir / stem)
        except KeyError as exc:
            raise InputError(path, "columns", f"missing column {exc.args[0]!r} (needed for {stem})") from None
    if args.policies is not None:
        from ..learning_curves import learning_curves_figure, read_runs

        runs = read_runs(args.policies)
        if len(runs):
            paths += learning_curves_figure(runs, args.outdir / "learning_curves")
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
