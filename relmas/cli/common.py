"""Options shared by the commands that simulate: config, preset, system, table."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from characterize.errors import InputError

from ..config import DEFAULT_CONFIG, load_config
from ..costs import SystemCosts, load_costs


def add_scenario_options(p: argparse.ArgumentParser) -> None:
    """--config, --preset, --system, --table, --layers-dir."""
    g = p.add_argument_group("scenario")
    g.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="configuration file (default: config/config.yaml)")
    g.add_argument("--preset", default=None, help="preset of the configuration (default: the file's `preset`)")
    g.add_argument("--system", type=Path, default=None,
                   help="system YAML (default: the configuration's, arch/systems/relmas_6sa.yaml)")
    g.add_argument("--table", type=Path, default=None,
                   help="characterisation table (default: outputs/tables/<backend>.csv, written by the main job)")
    g.add_argument("--layers-dir", type=Path, default=None, help="model YAML folder (default: layers)")


def scenario(args: argparse.Namespace) -> tuple[dict[str, Any], SystemCosts]:
    """The configuration and the costs named by the scenario options."""
    cfg = load_config(args.config, args.preset)
    if args.system is None and not cfg.get("system"):
        raise InputError(cfg["_path"], "system", "missing: name the system YAML here or pass --system")
    system = args.system or Path(cfg["system"])
    backend = (cfg.get("characterize") or {}).get("backend", "zigzag")
    table = args.table or Path("outputs/tables") / f"{backend}.csv"
    layers_dir = args.layers_dir or Path(cfg.get("layers_dir", "layers"))
    costs = load_costs(table, system, layers_dir, cfg.get("arch_dir"))
    return cfg, costs


def bandwidth_option(value: float | None, costs: SystemCosts, frequency_ghz: float = 1.0) -> SystemCosts:
    """Apply --bandwidth (GB/s) to the costs."""
    if value is None:
        return costs
    if value <= 0:
        raise InputError("--bandwidth", "", f"must be positive, got {value}")
    return costs.with_bandwidth(value / frequency_ghz)
