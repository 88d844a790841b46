"""``relmas overhead``: energy overhead of the policy per hidden size and period (Fig. 5)."""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from characterize.table import read_table

from .. import workload as wl
from ..io import atomic_path
from ..overhead import energy_overhead
from .common import (UniqueValues, add_scenario_options, non_negative_int, output_file, positive_float, positive_int,
                     scenario)
from .simulate import describe_workload, load_or_generate, parse_params


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "overhead",
        help="energy overhead of running the RELMAS policy on a Simba Small SA (Fig. 5)",
        description="Simulate the workload at each period, count the policy's LSTM steps (queue length + 1 per "
        "decision) and price each decision with the policy table's cost for each hidden size: weights loaded once "
        "per decision, then the energy of every step.",
    )
    p.add_argument("--workload", default="mixed")
    p.add_argument("--qos", default=None, choices=wl.QOS_LEVELS,
                   help="QoS level (default: medium; a workload file's own, which --qos must not contradict)")
    p.add_argument("--hidden", nargs="+", type=positive_int, action=UniqueValues, required=True, metavar="H")
    p.add_argument("--periods", nargs="+", type=positive_float, action=UniqueValues, required=True, metavar="CYCLES")
    p.add_argument("--seeds", nargs="+", type=non_negative_int, action=UniqueValues, required=True)
    p.add_argument("--scheduler", default="relmas", help="scheduler whose queues are counted (default: relmas)")
    p.add_argument("--policy", type=Path, default=None, help="checkpoint for --scheduler relmas")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--policy-table", type=Path, default=Path("outputs/tables/policy.csv"))
    p.add_argument("--jobs", type=positive_int, default=None)
    p.add_argument("-o", "--output", type=output_file, required=True)
    add_scenario_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg, costs = scenario(args)
    table = read_table(args.policy_table)
    table.attrs["source"] = str(args.policy_table)  # named by errors about missing hidden sizes
    is_file = args.workload not in (cfg.get("workloads") or {})
    first = load_or_generate(args.workload, args.qos, args.seeds[0], cfg, costs, args.jobs) if is_file else None
    _, qos = describe_workload(args.workload, first, args.qos, cfg)  # a workload file's QoS labels the rows
    df = energy_overhead(costs, cfg, table, args.workload, qos, args.hidden, args.periods, args.seeds,
                         args.scheduler, parse_params(args.param), args.policy, args.jobs)
    with atomic_path(args.output) as tmp:
        df.to_csv(tmp, index=False)
    worst = df.groupby(["hidden", "period_cycles"])["overhead_percent"].mean().max()
    print(f"wrote {args.output}: {len(df)} rows; largest mean overhead {worst:.3f}%")
    return 0
