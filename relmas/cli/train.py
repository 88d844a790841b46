"""``relmas train``: train a RELMAS policy on one scenario (workload set x QoS level).

The hyperparameters come from the configuration's ``train:`` section, merged
with ``train.recipes.<recipe>`` for the chosen recipe (``--recipe``, default
the section's ``recipe``); ``--set key=value`` overrides single values. The run
folder holds ``best.pt`` (the policy with the best validation SLA rate, for
``relmas simulate --scheduler relmas --policy DIR/best.pt``), ``last.pt`` (the full
training state), ``metrics.csv``, ``tb/`` (TensorBoard) and ``learning_curve.png``.
Running the same command again after an interruption (even ``kill -9``) resumes
from ``last.pt``; running it on a finished folder does nothing.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from characterize.errors import InputError

from .common import add_scenario_options, non_negative_int, output_dir, scenario

#: --policy-table when not given. With train.charge_overhead ``auto`` a run trains without the decision-overhead
#: charge (and says so on stderr) when this table is missing or lacks the hidden size.
DEFAULT_POLICY_TABLE = Path("outputs/tables/policy.csv")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the RELMAS DDPG + LSTM policy on one workload set and QoS level",
        description="Train the RELMAS policy (LSTM actor and critic, DDPG; paper section 4) on workloads drawn "
        "from a workload set of the configuration at one QoS level, validating on workloads of seeds never used "
        "for training, and keep the best policy by validation SLA rate. Progress on stderr; metrics in "
        "DIR/metrics.csv and DIR/tb. Re-running the same command resumes an interrupted run.",
    )
    p.add_argument("--workload", required=True, help="workload set of the configuration: light, heavy or mixed")
    p.add_argument("--qos", required=True, choices=("low", "medium", "high"))
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="training seed (networks, noise, workload seeds); default 0")
    p.add_argument("-o", "--output", type=output_dir, required=True, metavar="DIR", help="run folder")
    p.add_argument("--recipe", default=None,
                   help="training recipe: paper (DDPG exactly as published) or bc-ddpg (imitation warm start, then "
                   "DDPG with a behaviour-cloning term); default: the configuration's train.recipe")
    p.add_argument("--policy-table", type=Path, default=None,
                   help="characterisation of the policy's layers, for the decision-overhead charge (default "
                   f"{DEFAULT_POLICY_TABLE}; a table given here must exist)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one train setting, e.g. --set hidden=128 --set reward.delta=0.02 (YAML values)")
    p.add_argument("--label-cache", type=output_dir, default=Path("outputs/cache/labels"), metavar="DIR",
                   help="cache of the expert's episodes (bc-ddpg), reused across runs and resumptions "
                   "(default outputs/cache/labels)")
    p.add_argument("--label-workers", type=int, default=None, metavar="N",
                   help="processes computing expert labels (overrides train.label_workers; 0: one per CPU)")
    p.add_argument("--restart-if-changed", action="store_true",
                   help="when DIR holds a run with other settings, move its files to DIR/replaced/<time>/ and start "
                   "over (default: refuse, naming the setting that differs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_scenario_options(p)
    p.set_defaults(func=run)


def train_config(cfg: dict[str, Any], recipe: str | None, overrides: list[str]) -> Any:
    """The :class:`relmas.ddpg.TrainConfig` of a configuration, a recipe and ``--set`` overrides.

    An error in a setting names ``--set`` when the setting (or its section) was given there, else the
    configuration file; the expert (``imitate``, ``imitate_args``) is built once here so that its parameters
    are checked the same way.
    """
    from relmas.config import _merge
    from relmas.ddpg import RECIPES, TrainConfig
    from relmas.scheduler import get_scheduler
    from relmas.typed_params import ParamError

    where = f"{cfg.get('_path', 'config')} (train)"
    section = dict(cfg.get("train") or {})
    recipes = section.pop("recipes", {}) or {}
    name = recipe or section.get("recipe", "paper")
    if name not in RECIPES:
        raise InputError("--recipe" if recipe else where, "recipe", f"unknown recipe '{name}' (known: {', '.join(RECIPES)})")
    merged = _merge(section, recipes.get(name) or {})
    merged["recipe"] = name
    set_keys: list[str] = []
    for item in overrides:
        if "=" not in item:
            raise InputError("--set", item, "expected KEY=VALUE")
        key, val = item.split("=", 1)
        try:
            value = yaml.safe_load(val)
        except yaml.YAMLError as exc:
            raise InputError("--set", key, f"value is not valid YAML: {exc}") from None
        node = merged
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError("--set", key, f"'{part}' is not a section")
        node[parts[-1]] = value
        set_keys.append(key.strip())

    def source(field: str) -> str:
        given = any(field == k or field.startswith(k + ".") or k.startswith(field + ".") for k in set_keys)
        return "--set" if given else where

    try:
        tcfg = TrainConfig.from_dict(merged, where)
    except InputError as exc:
        if exc.path == where and source(exc.field) == "--set":
            raise InputError("--set", exc.field, exc.message) from None
        raise
    if tcfg.imitate:
        try:
            get_scheduler(tcfg.imitate, **tcfg.imitate_args)
        except (KeyError, TypeError, ValueError) as exc:
            field = f"imitate_args.{exc.param}" if isinstance(exc, ParamError) else \
                "imitate" if isinstance(exc, KeyError) else "imitate_args"
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            raise InputError(source(field), field, f"cannot make expert '{tcfg.imitate}': {msg}") from None
    return tcfg


def training_scenario(cfg: dict[str, Any], costs: Any, workload: str, qos: str,
                      policy_table: str | Path | None) -> Any:
    """The :class:`relmas.ddpg.Scenario` that ``relmas train`` builds for a workload set and QoS level.

    Probes build theirs here too, so that their expert episodes have the training runs' cache key.
    """
    from relmas import workload as wl
    from relmas.config import period_of, workload_config
    from relmas.ddpg import Scenario

    wcfg = workload_config(cfg, workload)

    def make_workload(seed: int, jobs: int | None) -> Any:
        w = wcfg if jobs is None else wcfg.model_copy(update={"jobs": int(jobs)})
        return wl.generate(costs, w, qos, seed, name=workload)

    meta = {"workload": workload, "qos": qos, "preset": cfg.get("preset"), "table": costs.table,
            "system": costs.system, "workload_config": wcfg.model_dump(mode="json")}
    return Scenario(costs=costs, period=period_of(cfg, workload), make_workload=make_workload, meta=meta,
                    policy_table=policy_table)


def run(args: argparse.Namespace) -> int:
    from relmas.ddpg import train

    if args.policy_table is not None and not args.policy_table.is_file():
        what = "is a folder" if args.policy_table.is_dir() else "not found"
        raise InputError("--policy-table", "", f"'{args.policy_table}' {what} (leave the flag out to use "
                         f"{DEFAULT_POLICY_TABLE} when it exists)")
    policy_table = args.policy_table or DEFAULT_POLICY_TABLE
    cfg, costs = scenario(args)
    tcfg = train_config(cfg, args.recipe, args.set)
    if args.label_workers is not None:
        if args.label_workers < 0:
            raise InputError("--label-workers", "", "must be >= 0")
        tcfg.label_workers = int(args.label_workers)
    scen = training_scenario(cfg, costs, args.workload, args.qos, policy_table)
    res = train(tcfg, scen, args.output, seed=args.seed, progress=not args.no_progress, label_cache=args.label_cache,
                restart_if_changed=args.restart_if_changed)
    state = "finished" if res.finished else "stopped"
    print(f"relmas train: {state} after {res.updates} updates, {res.episodes} episodes, "
          f"{res.wall_s / 60:.1f} min wall, {res.cpu_s / 60:.1f} CPU-min (both over all invocations of the run; "
          f"max_minutes counts CPU time by default); best validation SLA rate {res.best_val_sla:.3f} at update "
          f"{res.best_update}; policy: {Path(args.output) / 'best.pt'}")
    return 0
