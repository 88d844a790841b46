"""``relmas workload``: draw a workload (jobs, arrivals, deadlines) and save it."""
from __future__ import annotations

import argparse
from pathlib import Path

from .. import workload as wl
from ..config import workload_config
from .common import add_scenario_options, non_negative_int, output_file, positive_int, scenario


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "workload",
        help="generate a Light/Heavy/Mixed workload at a QoS level from a seed and save it",
        description="Draw requests with Pareto inter-arrival times from a workload set of the configuration; "
        "each job's deadline is its arrival plus the QoS factor times its model's isolated latency. "
        "The same seed always gives the same workload. Prints the offered load.",
    )
    p.add_argument("--workload", required=True, help="workload set of the configuration: light, heavy or mixed")
    p.add_argument("--qos", required=True, choices=wl.QOS_LEVELS)
    p.add_argument("--seed", type=non_negative_int, required=True)
    p.add_argument("--jobs", type=positive_int, default=None, help="number of jobs (default: the configuration's)")
    p.add_argument("-o", "--output", type=output_file, required=True, help="workload YAML to write")
    add_scenario_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg, costs = scenario(args)
    wcfg = workload_config(cfg, args.workload)
    if args.jobs is not None:
        wcfg = wcfg.model_copy(update={"jobs": args.jobs})
    w = wl.generate(costs, wcfg, args.qos, args.seed, name=args.workload)
    wl.save(w, args.output)
    m = w.meta
    print(f"wrote {args.output}: {w.num_jobs} jobs, {args.workload}/{args.qos}, seed {args.seed}, "
          f"offered load {m['offered_load']:.3f} (realised {wl.offered_load(costs, w):.3f}), "
          f"mean inter-arrival {m['mean_interarrival_cycles']:.0f} cycles, QoS factor {m['qos_factor']:.2f}")
    return 0
