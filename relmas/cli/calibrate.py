"""``relmas calibrate``: SLA rates of schedulers over a grid of offered loads and QoS factors.

The workload sets' ``load`` and ``qos_factor_medium`` must make the scenarios
discriminate between schedulers (neither everything hits nor everything
misses). This command measures that on the current table: for each (load,
factor) of the grid it generates the workloads of the given seeds with those
values in place of the configuration's, runs each scheduler, and writes one row
per (load, factor, scheduler) with the mean SLA rate over the seeds. After a
new model, SA class or table, rerun it and pick new values
(docs/workloads.md shows the shipped calibration and its command).
"""
from __future__ import annotations

import argparse
import copy
import itertools
from pathlib import Path

import pandas as pd

from characterize.errors import InputError

from ..io import atomic_path
from .common import (UniqueValues, add_scenario_options, non_negative_int, output_file, positive_float, positive_int,
                     scenario)
from .simulate import period_for


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="SLA rate of schedulers over a grid of offered loads and QoS-Medium factors",
        description="For each load x factor, generate the workload set's workloads of --seeds with that offered "
        "load and QoS-Medium factor, run every scheduler, and print (and optionally write) the mean SLA rate.",
    )
    p.add_argument("--workload", required=True, help="workload set of the configuration: light, heavy or mixed")
    p.add_argument("--qos", default="medium", choices=("low", "medium", "high"))
    p.add_argument("--loads", nargs="+", type=positive_float, action=UniqueValues, required=True, metavar="LOAD",
                   help="offered loads to try")
    p.add_argument("--factors", nargs="+", type=positive_float, action=UniqueValues, default=None, metavar="F",
                   help="QoS-Medium factors to try (default: the configuration's)")
    p.add_argument("--schedulers", nargs="+", action=UniqueValues, default=["fcfs-h", "edf-h", "prema-h", "herald"],
                   help="schedulers to run (not the learned relmas ones; default: fcfs-h edf-h prema-h herald)")
    p.add_argument("--seeds", nargs="+", type=non_negative_int, action=UniqueValues, default=[1000, 1001, 1002])
    p.add_argument("--jobs", type=positive_int, default=150, help="jobs per workload (default 150)")
    p.add_argument("-o", "--output", type=output_file, default=None, help="CSV to write (default: print only)")
    add_scenario_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..evaluate import evaluate

    learned = [s for s in args.schedulers if s.lower().startswith("relmas")]
    if learned:
        raise InputError("--schedulers", "", f"'{learned[0]}' is a learned scheduler and cannot be calibrated: "
                         "calibration picks the workload sets' load and deadlines with the heuristics and MAGMA, "
                         "before any policy is trained (evaluate a policy with `relmas evaluate --policy`)")
    cfg, costs = scenario(args)
    sets = cfg.get("workloads") or {}
    if args.workload not in sets:
        raise InputError(cfg.get("_path", "config"), f"workloads.{args.workload}",
                         f"no such workload set (known: {', '.join(sets)})")
    factors = args.factors or [float(sets[args.workload].get("qos_factor_medium", 2.0))]
    period = period_for(cfg, args.workload, None)
    rows = []
    for load, factor in itertools.product(args.loads, factors):
        c = copy.deepcopy(cfg)
        ws = c["workloads"][args.workload]
        ws.pop("scale_cycles", None)
        ws["load"], ws["qos_factor_medium"] = float(load), float(factor)
        df = evaluate(costs, c, args.workload, args.qos, args.schedulers, args.seeds, period, jobs=args.jobs,
                      progress=False)
        for name, g in df.groupby("scheduler", sort=False):
            rows.append({"workload": args.workload, "qos": args.qos, "load": load, "factor": factor,
                         "scheduler": name, "sla_rate": g["sla_rate"].mean(), "seeds": len(g),
                         "offered_load": g["offered_load"].mean()})
        line = "  ".join(f"{r['scheduler']} {r['sla_rate']:.2f}" for r in rows if r["load"] == load
                         and r["factor"] == factor)
        print(f"{args.workload} load {load:g} factor {factor:g}: {line}", flush=True)
    out = pd.DataFrame(rows)
    if args.output:
        with atomic_path(args.output) as tmp:
            out.to_csv(tmp, index=False)
        print(f"wrote {args.output}")
    return 0
