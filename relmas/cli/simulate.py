"""``relmas simulate``: run one episode of a workload under a scheduler and write its metrics."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from characterize.errors import InputError

from .. import workload as wl
from ..config import workload_config
from ..costs import SystemCosts
from ..io import write_json
from ..scheduler import Scheduler, available_schedulers, get_scheduler
from .common import add_scenario_options, bandwidth_option, scenario
from .common import non_negative_int, output_file, positive_float, positive_int  # argparse types


def add_scheduler_options(p: argparse.ArgumentParser) -> None:
    """--scheduler, --param, --policy."""
    p.add_argument("--scheduler", required=True,
                   help="fcfs-h, prema-h, herald, magma, magma-seeded, magma-multiseed, edf-h, relmas, random, or a "
                   "registered plug-in")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="scheduler parameter, repeatable (e.g. --param generations=30); overrides the configuration's "
                   "`schedulers.<name>` section")
    p.add_argument("--policy", type=Path, default=None, help="trained policy checkpoint (for --scheduler relmas)")
    p.add_argument("--no-charge-overhead", action="store_true",
                   help="relmas: do not charge the policy's own cycles and energy to the Simba Small SA that runs it "
                   "(charged by default, as in the paper)")
    p.add_argument("--policy-table", type=Path, default=Path("outputs/tables/policy.csv"),
                   help="relmas: characterisation of the policy's layers (default outputs/tables/policy.csv)")


def parse_params(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings to a dict; values parsed as YAML scalars (numbers, booleans, strings)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InputError("--param", "", f"expected KEY=VALUE, got '{item}'")
        k, v = item.split("=", 1)
        if not k.isidentifier():
            raise InputError("--param", "", f"'{k}' is not a parameter name")
        try:
            out[k] = yaml.safe_load(v)
        except yaml.YAMLError:
            out[k] = v
    return out


def make_scheduler(name: str, cfg: dict[str, Any], costs: SystemCosts, params: dict[str, Any],
                   policy: Path | None = None) -> Scheduler:
    """A scheduler by name with the configuration's parameters, then ``params`` on top."""
    from ..workload import isolated_latencies

    kwargs = dict((cfg.get("schedulers") or {}).get(name) or {})
    kwargs.update(params)
    if name == "prema-h":
        kwargs.setdefault("isolated_latency", isolated_latencies(costs))
    if name.startswith("relmas"):
        if policy is None:
            raise InputError("--policy", "", f"scheduler '{name}' needs --policy PATH (a checkpoint written by "
                             "`relmas train`, e.g. outputs/policies/light_medium/best.pt)")
        kwargs["policy"] = policy
        kwargs.setdefault("costs", costs)
    elif policy is not None:
        raise InputError("--policy", "", f"scheduler '{name}' takes no policy checkpoint")
    try:
        return get_scheduler(name, **kwargs)
    except KeyError:
        raise InputError("--scheduler", "", f"unknown scheduler '{name}' (known: {', '.join(available_schedulers())})") \
            from None
    except TypeError as exc:
        raise InputError("--param", "", f"scheduler '{name}' does not take these parameters: {exc}") from None
    except ValueError as exc:
        raise InputError("--param", "", f"scheduler '{name}': {exc}") from None


def load_or_generate(spec: str, qos: str, seed: int, cfg: dict[str, Any], costs: SystemCosts,
                     jobs: int | None = None) -> wl.Workload:
    """A workload set name of the configuration (generated from ``seed``) or a workload file."""
    if spec in (cfg.get("workloads") or {}):
        wcfg = workload_config(cfg, spec)
        if jobs is not None:
            wcfg = wcfg.model_copy(update={"jobs": jobs})
        return wl.generate(costs, wcfg, qos, seed, name=spec)
    path = Path(spec)
    if not path.exists():
        raise InputError("--workload", "", f"'{spec}' is neither a workload set of the configuration "
                         f"({', '.join(cfg.get('workloads') or {})}) nor a file")
    return wl.load(path, costs)


def period_for(cfg: dict[str, Any], workload: str, override: float | None) -> float:
    """T_s: --period, else the configuration's period for this workload set (else 100,000 cycles)."""
    if override is not None:
        if override <= 0:
            raise InputError("--period", "", f"must be positive, got {override}")
        return float(override)
    per = cfg.get("period_cycles", 100000)
    if isinstance(per, dict):
        return float(per.get(workload, per.get("default", 100000)))
    return float(per)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="run one episode under a scheduler and write its metrics as JSON",
        description="Simulate a workload on the system with the contention simulator, invoking the scheduler "
        "every period, and write sla_rate, jobs, hits, per_model, utilisation, energy_pj and more as JSON.",
    )
    p.add_argument("--workload", required=True, help="light, heavy, mixed (generated from --seed) or a workload file")
    p.add_argument("--qos", default="medium", choices=wl.QOS_LEVELS, help="QoS level (default: medium)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="workload and scheduler seed (default: 0)")
    p.add_argument("--jobs", type=positive_int, default=None, help="number of jobs (default: the configuration's)")
    p.add_argument("--period", type=positive_float, default=None, help="scheduling period T_s in cycles")
    p.add_argument("--bandwidth", type=positive_float, default=None,
                   help="shared DRAM bandwidth in GB/s (default: the system's)")
    add_scheduler_options(p)
    p.add_argument("-o", "--output", type=output_file, required=True, help="metrics JSON to write")
    add_scenario_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..sim import Simulator

    if args.jobs is not None and args.jobs < 1:
        raise InputError("--jobs", "", "must be at least 1")
    cfg, costs = scenario(args)
    costs = bandwidth_option(args.bandwidth, costs)
    params = parse_params(args.param)
    w = load_or_generate(args.workload, args.qos, args.seed, cfg, costs, args.jobs)
    if args.scheduler.startswith("relmas"):
        params.setdefault("charge_overhead", not args.no_charge_overhead)
        params.setdefault("policy_table", args.policy_table)
    sched = make_scheduler(args.scheduler, cfg, costs, params, args.policy)
    period = period_for(cfg, args.workload, args.period)
    res = Simulator(costs, period).run(w, sched, seed=args.seed)
    out = res.to_dict()
    out["meta"].update({"workload": args.workload, "qos": args.qos, "scheduler": args.scheduler,
                        "seed": args.seed, "period_cycles": period, "bandwidth_bpc": costs.bandwidth,
                        "system": costs.system, "table": costs.table, "params": {k: str(v) for k, v in params.items()},
                        "workload_meta": w.meta})
    write_json(args.output, out)
    print(json.dumps({"sla_rate": out["sla_rate"], "jobs": out["jobs"], "hits": out["hits"],
                      "scheduler": args.scheduler, "output": str(args.output)}))
    return 0
