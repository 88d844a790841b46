"""``relmas collect``: merge per-job result CSVs into outputs/results/sla.csv or bandwidth.csv."""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from characterize.errors import InputError

from ..evaluate import RESULT_COLUMNS
from ..io import atomic_path, read_csv
from .common import output_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "collect",
        help="merge evaluation CSVs (sla.csv), or summarise a bandwidth sweep (bandwidth.csv)",
        description="Concatenate the CSVs written by `relmas evaluate`, in a stable order. With --bandwidth, "
        "write one row per scheduler and bandwidth: mean SLA rate, 95% CI, and both normalised to the "
        "scheduler's best.",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="CSV")
    p.add_argument("--bandwidth", action="store_true", help="summarise a bandwidth sweep")
    p.add_argument("-o", "--output", type=output_file, required=True)
    p.set_defaults(func=run)


#: Columns that identify an episode; ``bandwidth_gbps`` too where the inputs have it (a bandwidth sweep).
EPISODE_KEY = ["workload", "qos", "scheduler", "seed"]


def read_results(paths: list[Path]) -> pd.DataFrame:
    """Concatenate result CSVs, checking their columns and that no episode appears twice.

    An episode given twice (the same file passed twice, or two runs of the same scenario) would be
    counted twice in the means and confidence intervals, so it is an error naming both files.
    """
    frames = []
    seen: set[Path] = set()
    for path in paths:
        if path.resolve() in seen:
            raise InputError(path, "", "given twice: its episodes would be counted twice")
        seen.add(path.resolve())
        df = read_csv(path)
        missing = [c for c in RESULT_COLUMNS[:5] if c not in df.columns]
        if missing:
            raise InputError(path, "columns", f"missing {missing}")
        if df.empty:
            raise InputError(path, "", "holds no rows (only a header): an evaluation that wrote nothing")
        frames.append(df.assign(_file=str(path)))
    df = pd.concat(frames, ignore_index=True)
    key = EPISODE_KEY + (["bandwidth_gbps"] if "bandwidth_gbps" in df.columns else [])
    dup = df[df.duplicated(key, keep=False)]
    if len(dup):
        first = dup.iloc[0]
        same = dup[(dup[key].astype(str) == first[key].astype(str)).all(axis=1)]
        files = same["_file"].tolist()
        where = f"twice in {files[0]}" if len(set(files)) == 1 else f"in {files[0]} and {files[1]}"
        episode = ", ".join(f"{k} {first[k]}" for k in key)
        raise InputError(files[-1], "", f"episode ({episode}) appears {where}: each episode must be counted once")
    return df.drop(columns="_file")


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
