"""``relmas characterize``: write the per-layer cost table of models on SA classes."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from characterize.backends import BACKENDS, OBJECTIVES
from characterize.errors import InputError
from characterize.policy_layers import policy_models
from characterize.schema import load_system
from characterize.table import build_table, load_classes, load_models, write_table
from relmas.cli.common import output_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "characterize",
        help="cost every layer of every model on every SA class (cycles, energy, DRAM traffic)",
        description="Evaluate each (model, layer, SA class) with a real accelerator model and write "
        "outputs/tables/<name>.csv. Results are cached by layer shape, SA class, backend and settings, "
        "so a rerun with nothing changed evaluates nothing.",
    )
    p.add_argument("-o", "--output", type=output_file, required=True, help="CSV table to write (atomically)")
    p.add_argument("--backend", choices=BACKENDS, default="zigzag", help="cost model (default: zigzag)")
    p.add_argument("--objective", choices=OBJECTIVES, default="edp",
                   help="mapping objective of the backend's mapper (default: edp; see docs/characterization.md)")
    p.add_argument("--arch-dir", type=Path, default=Path("arch"), help="folder of SA class YAML (default: arch)")
    p.add_argument("--layers-dir", type=Path, default=Path("layers"), help="folder of model YAML (default: layers)")
    p.add_argument("--models", nargs="+", metavar="MODEL", help="models to include (default: all in --layers-dir)")
    p.add_argument("--classes", nargs="+", metavar="CLASS", help="SA classes to include (default: all in --arch-dir)")
    p.add_argument("--policy-hidden", nargs="+", type=int, metavar="H",
                   help="instead of models, cost the RELMAS policy's layers for these hidden sizes (one step, and "
                   "64 steps sharing their weights: the decision-overhead model)")
    p.add_argument("--policy-system", type=Path, default=Path("arch/systems/relmas_6sa.yaml"),
                   help="system whose SA count sets the policy's F and G (with --policy-hidden)")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                   help="parallel evaluations (default: number of cores)")
    p.add_argument("--cache-dir", type=Path, default=Path("outputs/cache"), help="evaluation cache (default: outputs/cache)")
    p.add_argument("--backend-set", action="append", default=[], metavar="KEY=VALUE",
                   help="a backend setting (part of the cache key), e.g. --backend-set victory_condition=200 "
                   "for timeloop; see docs/characterization.md and docs/timeloop.md")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise InputError("--jobs", "", "must be at least 1")
    classes = load_classes(args.arch_dir, args.classes)
    if args.policy_hidden:
        system = load_system(args.policy_system, args.arch_dir)
        for h in args.policy_hidden:
            if h < 2 or h % 2:
                raise InputError("--policy-hidden", "", f"hidden size must be an even integer >= 2, got {h}")
        models = [m for h in args.policy_hidden for m in policy_models(h, len(system.accelerators))]
    else:
        models = load_models(args.layers_dir, args.models)
    from .simulate import parse_params

    settings = parse_params(args.backend_set) if args.backend_set else {}
    try:
        df, stats = build_table(models, classes, args.backend, args.objective, args.jobs, args.cache_dir,
                                settings=settings, progress=not args.quiet, arch_dir=args.arch_dir)
    except TypeError as exc:
        raise InputError("--backend-set", "", f"backend '{args.backend}' does not take these settings: {exc}") \
            from None
    write_table(df, args.output)
    print(f"wrote {args.output}: {stats.rows} rows, {stats.unique} unique evaluations "
          f"({stats.evaluated} evaluated, {stats.cached} from cache) in {stats.seconds:.1f} s")
    return 0
