"""``relmas evaluate``: every scheduler x seed (x bandwidth) of one scenario, as CSV rows."""
from __future__ import annotations

import argparse
from pathlib import Path

from characterize.errors import InputError

from .. import workload as wl
from ..evaluate import evaluate
from ..io import atomic_path
from .common import UniqueValues, check_named_schedulers, non_negative_int, output_file, positive_float, positive_int
from .common import add_scenario_options, scenario
from .simulate import describe_workload, load_or_generate, parse_params, period_for


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="run several schedulers on one scenario over several seeds (and bandwidths); write a CSV",
        description="Each seed draws one workload, shared by every scheduler and bandwidth. One row per episode: "
        "workload, qos, scheduler, seed, sla_rate, then the other metrics.",
    )
    p.add_argument("--workload", required=True,
                   help="light, heavy, mixed, or a workload file (its QoS and its set's period apply; every seed "
                   "then runs the file's jobs and only seeds the schedulers)")
    p.add_argument("--qos", default=None, choices=wl.QOS_LEVELS,
                   help="QoS level (default: medium; a workload file's own, which --qos must not contradict)")
    p.add_argument("--schedulers", nargs="+", action=UniqueValues, required=True, metavar="NAME")
    p.add_argument("--seeds", nargs="+", type=non_negative_int, action=UniqueValues, required=True, metavar="SEED")
    p.add_argument("--bandwidths", nargs="+", type=positive_float, action=UniqueValues, default=None, metavar="GBPS",
                   help="DRAM bandwidths to sweep in GB/s (default: the system's)")
    p.add_argument("--policy", action="append", default=[], metavar="SCHEDULER=PATH",
                   help="checkpoint of a learned scheduler, e.g. relmas=outputs/policies/light_medium/best.pt")
    p.add_argument("--param", action="append", default=[], metavar="SCHEDULER:KEY=VALUE",
                   help="a scheduler parameter, e.g. magma:generations=30")
    p.add_argument("--period", type=positive_float, default=None, help="scheduling period in cycles")
    p.add_argument("--jobs", type=positive_int, default=None, help="jobs per episode (default: the configuration's)")
    p.add_argument("-o", "--output", type=output_file, required=True, help="CSV to write")
    p.add_argument("--quiet", action="store_true")
    add_scenario_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg, costs = scenario(args)
    policies = {}
    for item in args.policy:
        if "=" not in item:
            raise InputError("--policy", "", f"expected SCHEDULER=PATH, got '{item}'")
        k, v = item.split("=", 1)
        policies[k] = Path(v)
    params: dict[str, dict] = {}
    for item in args.param:
        if ":" not in item:
            raise InputError("--param", "", f"expected SCHEDULER:KEY=VALUE, got '{item}'")
        k, kv = item.split(":", 1)
        params.setdefault(k, {}).update(parse_params([kv]))
    check_named_schedulers(args.schedulers, {"--policy": policies, "--param": params})
    # the set whose period applies, and the QoS of the rows: a workload file's own (checked against --qos)
    is_file = args.workload not in (cfg.get("workloads") or {})
    first = load_or_generate(args.workload, args.qos, args.seeds[0], cfg, costs, args.jobs) if is_file else None
    wset, qos = describe_workload(args.workload, first, args.qos, cfg)
    period = period_for(cfg, wset, args.period)
    df = evaluate(costs, cfg, args.workload, qos, args.schedulers, args.seeds, period, args.bandwidths,
                  policies, params, args.jobs, progress=not args.quiet)
    with atomic_path(args.output) as tmp:
        df.to_csv(tmp, index=False)
    summary = df.groupby("scheduler", sort=False)["sla_rate"].mean()
    print(f"wrote {args.output}: {len(df)} episodes; mean SLA rate " +
          ", ".join(f"{k} {v:.3f}" for k, v in summary.items()))
    return 0
