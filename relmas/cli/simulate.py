"""``relmas simulate``: run one episode of a workload under a scheduler and write its metrics."""
from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from characterize.errors import InputError

from .. import workload as wl
from ..config import period_of, workload_config
from ..costs import SystemCosts
from ..io import write_json
from ..scheduler import Scheduler, SchedulerError, named_as, plugin_errors, scheduler_factory
from ..typed_params import ParamError
from .common import add_scenario_options, bandwidth_option, scenario, scheduler_param_source
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


_WARNED: set[str] = set()  # plug-in modules already reported as failed to import, in this process


def _bind_problem(factory: Any, kwargs: dict[str, Any]) -> str | None:
    """Why ``factory(**kwargs)`` does not fit its signature, or None (also when it has no signature)."""
    try:
        inspect.signature(factory).bind(**kwargs)
    except TypeError as exc:
        return str(exc)
    except ValueError:  # no signature to inspect
        return None
    return None


def make_scheduler(name: str, cfg: dict[str, Any], costs: SystemCosts, params: dict[str, Any],
                   policy: Path | None = None) -> Scheduler:
    """A scheduler by name with the configuration's parameters, then ``params`` (--param) on top.

    Errors name their source: an unknown name (and any plug-in module that failed to import) --scheduler;
    arguments the scheduler's signature does not take --param, or the configuration's ``schedulers.<name>``
    when no --param is at fault; a ValueError or TypeError raised while it is built names the scheduler
    and the arguments it was given (a :class:`~relmas.scheduler.SchedulerError`).
    """
    from ..workload import isolated_latencies

    try:
        factory = scheduler_factory(name)
    except KeyError as exc:
        raise InputError("--scheduler", "", exc.args[0]) from None
    except ValueError as exc:
        raise InputError("--scheduler", "", str(exc)) from None
    for mod, err in plugin_errors(discover=False).items():  # found by the lookup's discovery, if it ran
        if mod not in _WARNED:
            _WARNED.add(mod)
            print(f"relmas: warning: plug-in module {mod} failed to import ({err}); its schedulers are unavailable",
                  file=sys.stderr)
    section = dict((cfg.get("schedulers") or {}).get(name) or {})

    def arguments(extra: dict[str, Any]) -> dict[str, Any]:
        kwargs = {**section, **extra}
        if name == "prema-h":
            kwargs.setdefault("isolated_latency", isolated_latencies(costs))
        if name.lower().startswith("relmas"):
            kwargs["policy"] = policy
            kwargs.setdefault("costs", costs)
        return kwargs

    if name.lower().startswith("relmas") and policy is None:
        raise InputError("--policy", "", f"scheduler '{name}' needs --policy PATH (a checkpoint written by "
                         "`relmas train`, e.g. outputs/policies/light_medium/best.pt)")
    if not name.lower().startswith("relmas") and policy is not None:
        raise InputError("--policy", "", f"scheduler '{name}' takes no policy checkpoint")
    kwargs = arguments(params)
    problem = _bind_problem(factory, kwargs)
    if problem is not None:
        if params and _bind_problem(factory, arguments({})) is None:
            raise InputError("--param", "", f"scheduler '{name}' does not take these parameters: {problem}")
        if section and _bind_problem(factory, arguments({})) is not None:
            raise InputError(cfg.get("_path", "config"), f"schedulers.{name}",
                             f"scheduler '{name}' does not take these parameters: {problem}")
        raise InputError("--scheduler", "", f"scheduler '{name}' cannot be built: {problem}")
    try:
        return named_as(factory(**kwargs), name)
    except ParamError as exc:  # a constructor's type check: it names the parameter, so name its source
        path, field = scheduler_param_source(name, cfg, params, exc)
        raise InputError(path, field, f"scheduler '{name}': {exc.message}") from None
    except (TypeError, ValueError) as exc:
        given = {**section, **params}
        args = ", ".join(f"{k}={v!r}" for k, v in given.items()) or "its defaults"
        raise SchedulerError(f"cannot be built with {args}: {type(exc).__name__}: {exc}", name,
                             show_cause=isinstance(exc, TypeError)) from exc


def load_or_generate(spec: str, qos: str | None, seed: int, cfg: dict[str, Any], costs: SystemCosts,
                     jobs: int | None = None) -> wl.Workload:
    """A workload set name of the configuration (generated from ``seed``; ``qos`` None: medium) or a workload file.

    A file's jobs and deadlines are fixed: a ``qos`` or ``jobs`` that contradicts its ``meta.qos`` or its
    number of jobs is an :class:`InputError` naming the file and the field.
    """
    if spec in (cfg.get("workloads") or {}):
        wcfg = workload_config(cfg, spec)
        if jobs is not None:
            wcfg = wcfg.model_copy(update={"jobs": jobs})
        return wl.generate(costs, wcfg, qos or "medium", seed, name=spec)
    path = Path(spec)
    if not path.exists():
        raise InputError("--workload", "", f"'{spec}' is neither a workload set of the configuration "
                         f"({', '.join(cfg.get('workloads') or {})}) nor a file")
    w = wl.load(path, costs)
    fqos = w.meta.get("qos")
    if qos is not None and fqos is not None and qos != fqos:
        raise InputError(path, "meta.qos", f"the file's jobs were drawn at QoS '{fqos}' (their deadlines are in the "
                         f"file), --qos {qos} contradicts it: drop --qos, or draw a workload at QoS {qos} with "
                         "`relmas workload`")
    if jobs is not None and jobs != w.num_jobs:
        raise InputError(path, "jobs", f"the file has {w.num_jobs} jobs, --jobs {jobs} contradicts it: drop --jobs")
    return w


def describe_workload(spec: str, w: wl.Workload | None, qos: str | None, cfg: dict[str, Any]
                      ) -> tuple[str, str | None]:
    """``(set, qos)`` of --workload SPEC once loaded: the workload set whose period applies and the QoS to record.

    For a set of the configuration, the set itself and ``qos`` (default medium). For a file, the set recorded
    in its ``meta.name`` (what ``relmas workload`` writes) when the configuration has it, else SPEC; and its
    ``meta.qos``, else ``qos``. ``w`` (the loaded file) may be None for a set.
    """
    sets = cfg.get("workloads") or {}
    if spec in sets:
        return spec, qos or "medium"
    name = w.meta.get("name")
    return (name if isinstance(name, str) and name in sets else spec), w.meta.get("qos", qos)


def period_for(cfg: dict[str, Any], workload: str, override: float | None) -> float:
    """T_s: --period (checked by its argparse type), else the configuration's for this workload set
    (:func:`relmas.config.period_of`)."""
    if override is not None:
        return float(override)
    return period_of(cfg, workload)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="run one episode under a scheduler and write its metrics as JSON",
        description="Simulate a workload on the system with the contention simulator, invoking the scheduler "
        "every period, and write sla_rate, jobs, hits, per_model, utilisation, energy_pj and more as JSON.",
    )
    p.add_argument("--workload", required=True,
                   help="light, heavy, mixed (generated from --seed) or a workload file (written by `relmas workload`: "
                   "its QoS and its set's period apply)")
    p.add_argument("--qos", default=None, choices=wl.QOS_LEVELS,
                   help="QoS level (default: medium; a workload file's own, which --qos must not contradict)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="workload and scheduler seed (default: 0)")
    p.add_argument("--jobs", type=positive_int, default=None, help="number of jobs (default: the configuration's)")
    p.add_argument("--period", type=positive_float, default=None,
                   help="scheduling period T_s in cycles (default: the configuration's for the workload set)")
    p.add_argument("--bandwidth", type=positive_float, default=None,
                   help="shared DRAM bandwidth in GB/s (default: the system's)")
    add_scheduler_options(p)
    p.add_argument("-o", "--output", type=output_file, required=True, help="metrics JSON to write")
    add_scenario_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..sim import Simulator

    cfg, costs = scenario(args)
    costs = bandwidth_option(args.bandwidth, costs)
    params = parse_params(args.param)
    w = load_or_generate(args.workload, args.qos, args.seed, cfg, costs, args.jobs)
    if args.scheduler.lower().startswith("relmas"):
        params.setdefault("charge_overhead", not args.no_charge_overhead)
        params.setdefault("policy_table", args.policy_table)
    sched = make_scheduler(args.scheduler, cfg, costs, params, args.policy)
    wset, qos = describe_workload(args.workload, w, args.qos, cfg)
    period = period_for(cfg, wset, args.period)
    res = Simulator(costs, period).run(w, sched, seed=args.seed)
    out = res.to_dict()
    out["meta"].update({"workload": args.workload, "qos": qos, "scheduler": args.scheduler,
                        "seed": args.seed, "period_cycles": period, "bandwidth_bpc": costs.bandwidth,
                        "system": costs.system, "table": costs.table, "params": {k: str(v) for k, v in params.items()},
                        "workload_meta": w.meta})
    write_json(args.output, out)
    print(json.dumps({"sla_rate": out["sla_rate"], "jobs": out["jobs"], "hits": out["hits"],
                      "scheduler": args.scheduler, "output": str(args.output)}))
    return 0
