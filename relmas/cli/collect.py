"""``relmas collect``: merge per-job result CSVs into outputs/results/sla.csv or bandwidth.csv."""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from characterize.errors import InputError

from ..evaluate import RESULT_COLUMNS
from ..io import atomic_path
from .common import output_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "collect",
        help="merge evaluation CSVs (sla.csv), or summarise a bandwidth sweep (bandwidth.csv)",
        description="Concatenate the CSVs written by `relmas evaluate`, in a stable order. With --bandwidth, "
        "write one row per scheduler and bandwidth: mean SLA rate, 95%% CI, and both normalised to the "
        "scheduler's best.",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="CSV")
    p.add_argument("--bandwidth", action="store_true", help="summarise a bandwidth sweep")
    p.add_argument("-o", "--output", type=output_file, required=True)
    p.set_defaults(func=run)


def read_results(paths: list[Path]) -> pd.DataFrame:
    """Concatenate result CSVs, checking their columns."""
    frames = []
    for path in paths:
        if not path.is_file():
            raise InputError(path, "", "file not found")
        try:
            df = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(path, "", f"not a readable CSV: {exc}") from None
        missing = [c for c in RESULT_COLUMNS[:5] if c not in df.columns]
        if missing:
            raise InputError(path, "columns", f"missing {missing}")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def run(args: argparse.Namespace) -> int:
    from ..report import normalise_bandwidth  # imported here: it pulls in scipy and matplotlib

    df = read_results(args.inputs)
    if args.bandwidth:
        out = normalise_bandwidth(df)
    else:
        out = df.sort_values(["workload", "qos", "scheduler", "seed"], kind="stable")
    with atomic_path(args.output) as tmp:
        out.to_csv(tmp, index=False)
    print(f"wrote {args.output}: {len(out)} rows")
    return 0
