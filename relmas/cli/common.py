"""Options shared by the commands: the scenario (config, preset, system, table), and argparse types that
check numbers and output paths while the command line is parsed."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any, Callable

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


def check_named_schedulers(schedulers: list[str], by_flag: dict[str, dict[str, Any]]) -> None:
    """Every scheduler named by an option (``{"--policy": {name: path}, "--param": {name: {...}}}``) must be
    one of ``schedulers``, spelt the same: a value for another one would be silently ignored."""
    for flag, named in by_flag.items():
        for name in named:
            if name not in schedulers:
                raise InputError(flag, "", f"'{name}' is not one of --schedulers ({', '.join(schedulers)}): "
                                 "its value would be ignored")


def scheduler_param_source(name: str, cfg: dict[str, Any], params: dict[str, Any], exc: Exception) -> tuple[str, str]:
    """Where the scheduler parameter that ``exc`` names came from, as ``(path, field)`` of an InputError.

    For :func:`relmas.cli.simulate.make_scheduler`, which merges the configuration's ``schedulers.<name>``
    section with ``--param`` values: a :class:`~relmas.typed_params.ParamError` (the constructors' type
    checks) names the parameter, so ``--param generations=abc`` gives ``("--param", "generations")`` and the
    same value in the file ``("config/config.yaml", "schedulers.magma.generations")``. Other errors, which
    name no parameter, give ``("--param", "")``.
    """
    key = getattr(exc, "param", None)
    if not key or key in params:
        return "--param", key or ""
    if key in ((cfg.get("schedulers") or {}).get(name) or {}):
        return str(cfg.get("_path", "config")), f"schedulers.{name}.{key}"
    return "--param", key


def bandwidth_option(value: float | None, costs: SystemCosts, frequency_ghz: float = 1.0) -> SystemCosts:
    """Apply --bandwidth (GB/s, checked by its argparse type ``positive_float``) to the costs."""
    if value is None:
        return costs
    return costs.with_bandwidth(value / frequency_ghz)


# --------------------------------------------------------------------------- #
# argparse ``type=`` and ``action=`` helpers: a bad value fails while the command line is parsed, before any
# file is read or written, with argparse's one-line "argument FLAG: ..." error and exit status 2.


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got '{text}'") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


#: A seed: numpy's SeedSequence takes no negative integer.
non_negative_int = int_at_least(0)
#: A count (jobs, SAs, hidden size, repeats).
positive_int = int_at_least(1)


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0 (a bandwidth, a period, a load); nan and inf are refused."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got '{text}'") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got '{text}'")
    return value


def _check_creatable(folder: Path) -> None:
    """``folder`` is a folder, or can be made: its nearest existing ancestor is a folder we may write in."""
    for anc in (folder, *folder.parents):
        if anc.exists():
            if not anc.is_dir():
                raise argparse.ArgumentTypeError(f"'{anc}' is a file, not a folder")
            if not os.access(anc, os.W_OK | os.X_OK):
                raise argparse.ArgumentTypeError(f"cannot write in '{anc}' (permission denied)")
            return


def output_file(text: str) -> Path:
    """An argparse type: a file to write. It must not be an existing folder, and its folder must exist or be
    creatable (no file in the way)."""
    if not text:
        raise argparse.ArgumentTypeError("empty path")
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"'{text}' is a folder; give the path of the file to write")
    _check_creatable(path.parent)
    return path


def output_dir(text: str) -> Path:
    """An argparse type: a folder to write in. It must not be an existing file, nor lie under one."""
    if not text:
        raise argparse.ArgumentTypeError("empty path")
    path = Path(text)
    _check_creatable(path)
    return path


class UniqueValues(argparse.Action):
    """``action=`` for a ``nargs="+"`` option whose values each make their own rows (seeds, schedulers): a
    value given twice would duplicate rows (and inflate the n of confidence intervals), so it is an error."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        seen: set = set()
        for v in values:
            key = v.lower() if isinstance(v, str) else v
            if key in seen:
                raise argparse.ArgumentError(self, f"'{v}' is given twice")
            seen.add(key)
        setattr(namespace, self.dest, values)
