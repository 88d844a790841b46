"""Project configuration: ``config/config.yaml`` with presets (smoke, default, paper).

The file holds the default preset's values at the top level and, under
``presets``, the overrides of every other preset; :func:`load_config` deep-merges
the chosen preset over the defaults and validates the result, so the Snakefile
and every CLI command read one consistent configuration.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from characterize.errors import InputError
from characterize.schema import load_yaml, validate_as

from .workload import WorkloadConfig

DEFAULT_CONFIG = Path("config/config.yaml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_default(cls, data: Any) -> Any:
        # `classes:` or `settings:` left empty in YAML is null: take it as the field's default, as the code
        # that reads these sections (`or []`, `or {}`) always has
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class CharacterizeSection(_Section):
    """``characterize``: what the table holds and how it is searched."""

    backend: str = "zigzag"
    objective: str = "edp"
    models: list[str] = Field(default_factory=list)
    policy_hidden: list[PositiveInt] = Field(default_factory=list)
    classes: list[str] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)


class BandwidthSweep(_Section):
    """``evaluation.bandwidth``: the Fig. 4 sweep."""

    workload: str
    qos: Literal["low", "medium", "high"]
    gbps: list[PositiveFloat] = Field(min_length=1)
    seeds: list[NonNegativeInt] = Field(min_length=1)


class OverheadSweep(_Section):
    """``evaluation.overhead``: the Fig. 5 energy overhead of the policy."""

    workload: str
    qos: Literal["low", "medium", "high"]
    hidden: list[PositiveInt] = Field(min_length=1)
    periods: list[PositiveFloat] = Field(min_length=1)
    seeds: list[NonNegativeInt] = Field(min_length=1)
    scheduler: str


class EvaluationSection(_Section):
    """``evaluation``: the schedulers and seeds of the workflow's results."""

    schedulers: list[str] = Field(min_length=1)
    seeds: list[NonNegativeInt] = Field(min_length=1)
    bandwidth: BandwidthSweep
    overhead: OverheadSweep


class ProjectConfig(_Section):
    """The top level of ``config/config.yaml`` after a preset is merged in.

    Every section is optional (a small config for one command may hold only
    what that command reads), but a section that is there must have the right
    shape, and an unknown key is an error: a misspelt section would otherwise be
    ignored silently. Workload sets and training settings are checked in depth
    by :class:`~relmas.workload.WorkloadConfig` and ``relmas.ddpg.TrainConfig``.
    """

    preset: str = "default"
    system: str | None = None
    arch_dir: str = "arch"
    layers_dir: str = "layers"
    characterize: CharacterizeSection = Field(default_factory=CharacterizeSection)
    workloads: dict[str, dict[str, Any]] = Field(default_factory=dict)
    period_cycles: dict[str, PositiveFloat] = Field(
        default_factory=dict, description="T_s per workload set; a `default` entry covers the others")
    schedulers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    learned_schedulers: dict[str, str] = Field(default_factory=dict)
    evaluation: EvaluationSection | None = None


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
    where = path if name == "default" else Path(f"{path} (preset {name})")
    validate_as(ProjectConfig, cfg, where)
    periods = cfg.get("period_cycles") or {}
    for wname in cfg.get("workloads") or {}:
        if periods and wname not in periods and "default" not in periods:
            raise InputError(where, f"period_cycles.{wname}",
                             f"no period for workload set '{wname}' (give one, or a `default` entry)")
    cfg["_path"] = str(path)
    for wname in cfg.get("workloads") or {}:
        workload_config(cfg, wname)
    return cfg


#: T_s of every workload set when the configuration has no ``period_cycles`` at all.
DEFAULT_PERIOD_CYCLES = 100000


def period_setting(cfg: dict[str, Any], workload: str) -> float | int:
    """The configured scheduling period of workload set ``workload``, as written: ``period_cycles.<set>``, else
    ``period_cycles.default``, else :data:`DEFAULT_PERIOD_CYCLES` when there is no ``period_cycles`` (a
    ``period_cycles`` that lacks the set and a ``default`` is refused by :func:`load_config`)."""
    periods = cfg.get("period_cycles") or {}
    return periods.get(workload, periods.get("default", DEFAULT_PERIOD_CYCLES))


def period_of(cfg: dict[str, Any], workload: str) -> float:
    """T_s in cycles of workload set ``workload`` (:func:`period_setting` as a float)."""
    return float(period_setting(cfg, workload))


def workload_config(cfg: dict[str, Any], name: str) -> WorkloadConfig:
    """The validated generator settings of workload set ``name`` (light, heavy, mixed, ...)."""
    sets = cfg.get("workloads") or {}
    if name not in sets:
        raise InputError("--workload", "", f"unknown workload set '{name}' (known: {', '.join(sets)}) "
                         "or not a file")
    source = f"{cfg.get('_path', 'config')} (workloads.{name})"
    wc = validate_as(WorkloadConfig, sets[name], Path(source))
    wc._source = source
    return wc
