"""``relmas bench characterize``: wall time of the full table, cold and warm."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from characterize.backends import BACKENDS, OBJECTIVES
from characterize.table import build_table, load_classes, load_models


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "characterize",
        help="time the full characterisation table cold (empty cache) and warm (nothing to evaluate)",
        description="Build the table of every model in --layers-dir on every class in --arch-dir twice: "
        "first with an empty cache (cold), then again with the cache it filled (warm), and report both wall "
        "times. The default table (7 models x 4 classes) takes many minutes cold.",
    )
    p.add_argument("--backend", choices=BACKENDS, default="zigzag")
    p.add_argument("--objective", choices=OBJECTIVES, default="edp")
    p.add_argument("--arch-dir", type=Path, default=Path("arch"))
    p.add_argument("--layers-dir", type=Path, default=Path("layers"))
    p.add_argument("--models", nargs="+", metavar="MODEL",
                   help="default: the configuration's characterize.models (the seven models of the paper's table)")
    p.add_argument("--config", type=Path, default=Path("config/config.yaml"),
                   help="configuration whose characterize.models is the default model list")
    p.add_argument("--classes", nargs="+", metavar="CLASS", help="default: all classes in --arch-dir")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="cache folder to use (must not exist yet); default: a temporary folder, removed after")
    p.add_argument("--json", action="store_true", help='print {"cold_s": ..., "warm_s": ..., ...}')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    classes = load_classes(args.arch_dir, args.classes)
    names = args.models
    if names is None:
        from ..config import load_config

        names = (load_config(args.config).get("characterize") or {}).get("models")
    models = load_models(args.layers_dir, names)
    tmp = None
    if args.cache_dir is None:
        tmp = tempfile.mkdtemp(prefix="relmas-bench-cache-")
        cache = Path(tmp)
    else:
        cache = args.cache_dir
        if cache.exists() and any(cache.iterdir()):
            raise SystemExit(f"relmas: error: --cache-dir {cache} is not empty; a cold run needs an empty cache")
    try:
        t0 = time.perf_counter()
        df, cold = build_table(models, classes, args.backend, args.objective, args.jobs, cache, progress=not args.json,
                               arch_dir=args.arch_dir)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, warm = build_table(models, classes, args.backend, args.objective, args.jobs, cache, progress=False)
        warm_s = time.perf_counter() - t0
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "cold_s": round(cold_s, 2), "warm_s": round(warm_s, 3), "rows": cold.rows,
        "unique_evaluations": cold.unique, "evaluated_cold": cold.evaluated, "evaluated_warm": warm.evaluated,
        "models": len(models), "classes": len(classes), "jobs": args.jobs, "backend": args.backend,
        "objective": args.objective, "cores": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.backend} ({args.objective}), {len(models)} models x {len(classes)} classes = {cold.rows} rows, "
              f"{cold.unique} unique evaluations, {args.jobs} jobs on {os.cpu_count()} cores")
        print(f"  cold: {cold_s:8.1f} s  ({cold.evaluated} evaluated)")
        print(f"  warm: {warm_s:8.3f} s  ({warm.evaluated} evaluated)")
    return 0
