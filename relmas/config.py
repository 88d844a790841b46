"""Project configuration: ``config/config.yaml`` with presets (smoke, default, paper).

The file holds the default preset's values at the top level and, under
``presets``, the overrides of every other preset; :func:`load_config` deep-merges
the chosen preset over the defaults and validates the result, so the Snakefile
and every CLI command read one consistent configuration.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from characterize.errors import InputError
from characterize.schema import load_yaml, validate_as

from .workload import WorkloadConfig

DEFAULT_CONFIG = Path("config/config.yaml")


#: Mappings that a preset replaces whole instead of merging key by key.
REPLACED_KEYS = {"mix"}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in REPLACED_KEYS:
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_config(path: str | Path = DEFAULT_CONFIG, preset: str | None = None) -> dict[str, Any]:
    """The configuration of ``preset`` (default: the file's ``preset`` key)."""
    path = Path(path)
    raw = load_yaml(path)
    presets = raw.get("presets") or {}
    name = preset or raw.get("preset", "default")
    if name != "default" and name not in presets:
        known = ", ".join(["default", *presets])
        raise InputError(path if preset is None else "--preset", "preset", f"unknown preset '{name}' (known: {known})")
    cfg = {k: v for k, v in raw.items() if k != "presets"}
    if name != "default":
        cfg = _merge(cfg, presets[name])
    cfg["preset"] = name
    cfg["_path"] = str(path)
    for wname in cfg.get("workloads") or {}:
        workload_config(cfg, wname)
    return cfg


def workload_config(cfg: dict[str, Any], name: str) -> WorkloadConfig:
    """The validated generator settings of workload set ``name`` (light, heavy, mixed, ...)."""
    sets = cfg.get("workloads") or {}
    if name not in sets:
        raise InputError("--workload", "", f"unknown workload set '{name}' (known: {', '.join(sets)}) "
                         "or not a file")
    return validate_as(WorkloadConfig, sets[name], Path(f"{cfg.get('_path', 'config')} (workloads.{name})"))
