"""Build the characterisation table: one row per (model, layer, SA class).

Layers are evaluated once per unique (layer shape, SA class content, backend,
backend version, settings): repeated shapes across and within models share one
evaluation, and results persist in an on-disk cache (one JSON file per
evaluation, written atomically, so parallel processes and interrupted runs never
corrupt it). Editing one SA class changes only that class's keys, so only it is
re-evaluated. Missing evaluations run in a process pool of ``jobs`` workers.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
from tqdm import tqdm

from relmas.io import atomic_path, write_json

from .backends import get_backend
from .backends.base import Backend, LayerCost
from .backends.class_checks import class_problems
from .errors import BackendUnavailable, InputError
from .schema import Layer, Model, SAClass, load_model, load_sa_class

#: The table's columns, in order. The first block is the published schema
#: (users' scripts read these names); the rest are extras.
TABLE_COLUMNS = [
    "model", "layer", "sa_class", "N", "C", "K", "R", "S", "P", "Q", "stride", "groups", "macs",
    "cycles", "energy_pj", "dram_read_bytes", "dram_write_bytes", "bandwidth_bpc",
    "backend", "backend_version", "objective",
    # extras
    "op", "stride_w", "pad_h", "pad_w", "utilization",
]

#: Numeric columns read_table checks: True if they must be positive, False if >= 0 (all finite).
NUMERIC_COLUMNS = {
    **{c: True for c in ("N", "C", "K", "R", "S", "P", "Q", "stride", "groups", "macs", "cycles", "stride_w")},
    **{c: False for c in ("energy_pj", "dram_read_bytes", "dram_write_bytes", "bandwidth_bpc",
                          "pad_h", "pad_w", "utilization")},
}


@dataclass(frozen=True)
class Task:
    """One evaluation: a layer shape on an SA class."""

    key: str
    sa: SAClass
    layer: Layer


def backend_code_hash(backend: Backend) -> str:
    """Hash of the source of the backend's module (and its helpers in the same package).

    Part of the cache key, so that a change to how the toolkit translates classes
    and layers for a backend re-evaluates everything, even with the same tool version.
    """
    import importlib
    import inspect

    files = {inspect.getsourcefile(type(backend)), inspect.getsourcefile(Backend)}
    for mod in getattr(backend, "code_modules", ()):
        files.add(inspect.getsourcefile(importlib.import_module(mod)))
    h = hashlib.sha256()
    for f in sorted(x for x in files if x):
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]


def cache_key(backend: Backend, version: str, sa: SAClass, layer: Layer, code: str = "") -> str:
    """Hash of everything that determines a layer's cost (layer names excluded)."""
    payload = {
        "backend": backend.name,
        "version": version,
        "code": code,
        "settings": backend.settings(),
        "sa": sa.model_dump(mode="json"),
        "shape": list(map(lambda x: list(x) if isinstance(x, tuple) else x, layer.shape_key())),
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


class Cache:
    """On-disk cache of layer costs: ``<root>/<backend>/<key[:2]>/<key>.json``."""

    def __init__(self, root: str | Path, backend: str):
        self.dir = Path(root) / backend

    def path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> LayerCost | None:
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            return LayerCost.from_dict(json.loads(p.read_text())["cost"])
        except (ValueError, KeyError, TypeError):
            # A corrupt entry (cannot happen with atomic writes, but a user may edit it) is re-evaluated.
            return None

    def put(self, key: str, cost: LayerCost, meta: dict[str, Any]) -> None:
        write_json(self.path(key), {"meta": meta, "cost": cost.to_dict()})


# Worker state: one backend per process, built once.
_WORKER_BACKEND: Backend | None = None


def _init_worker(backend_name: str, objective: str, settings: dict[str, Any]) -> None:
    global _WORKER_BACKEND
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _WORKER_BACKEND = get_backend(backend_name, objective, **settings)


def _refuses_input(exc: Exception) -> bool:
    """Whether a backend's exception says the class or layer cannot be evaluated (reported as an InputError
    naming the class file and the layer) rather than that the backend broke: a ``ValueError`` (the backends'
    own checks), a ``RuntimeError`` (the Timeloop backend's report of a failed tool run, with its log), or an
    exception that ZigZag defines (``NoValidLoopOrderingFoundException``: no mapping fits the buffers).
    Anything else (``KeyError``, ``AttributeError``, ...) is a bug and keeps its traceback."""
    if isinstance(exc, (ValueError, RuntimeError)):
        return True
    return (type(exc).__module__ or "").split(".")[0] == "zigzag"


def _evaluate(task: Task) -> tuple[str, LayerCost | None, float, str]:
    """(key, cost, seconds, "") or, when the backend fails on this layer and class, (key, None, seconds, reason)."""
    assert _WORKER_BACKEND is not None
    t0 = time.perf_counter()
    try:
        cost = _WORKER_BACKEND.evaluate(task.sa, task.layer)
    except BackendUnavailable:
        raise
    except Exception as exc:
        if not _refuses_input(exc):  # a bug in the backend or its tool, not in the class: keep the traceback
            raise
        # the backend's reason becomes an InputError in build_table
        return task.key, None, time.perf_counter() - t0, f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return task.key, cost, time.perf_counter() - t0, ""


def load_classes(arch_dir: Path, names: Iterable[str] | None = None) -> list[SAClass]:
    """SA classes from ``arch_dir`` (all ``*.yaml`` directly in it, or the named ones)."""
    if names:
        paths = [arch_dir / f"{n}.yaml" for n in names]
        for n, p in zip(names, paths):
            if not p.is_file():
                known = ", ".join(sorted(q.stem for q in arch_dir.glob("*.yaml")))
                raise InputError("--classes", "", f"no SA class '{n}' in {arch_dir}/ (known: {known})")
    else:
        paths = sorted(arch_dir.glob("*.yaml"))
    if not paths:
        raise InputError(arch_dir, "", "no SA class files (*.yaml) found")
    return [load_sa_class(p) for p in paths]


def load_models(layers_dir: Path, names: Iterable[str] | None = None) -> list[Model]:
    """Models from ``layers_dir`` (all, or the named ones, in the order given)."""
    if names:
        out = []
        for n in names:
            p = layers_dir / f"{n}.yaml"
            if not p.is_file():
                known = ", ".join(sorted(q.stem for q in layers_dir.glob("*.yaml")))
                raise InputError("--models", "", f"no model '{n}' in {layers_dir}/ (known: {known})")
            out.append(load_model(p))
        return out
    paths = sorted(layers_dir.glob("*.yaml"))
    if not paths:
        raise InputError(layers_dir, "", "no model files (*.yaml) found")
    return [load_model(p) for p in paths]


@dataclass
class BuildStats:
    """What a table build did."""

    rows: int
    unique: int
    evaluated: int
    cached: int
    seconds: float


def build_table(
    models: list[Model],
    classes: list[SAClass],
    backend_name: str = "zigzag",
    objective: str = "edp",
    jobs: int = 1,
    cache_dir: str | Path = "outputs/cache",
    settings: dict[str, Any] | None = None,
    progress: bool = True,
    arch_dir: str | Path | None = None,
) -> tuple[pd.DataFrame, BuildStats]:
    """Evaluate every (model, layer, class) through the cache and return the table.

    A class the backend cannot evaluate (``backends.class_checks``, or a failed
    evaluation of some layer) is an InputError naming the class file
    (``arch_dir/<class>.yaml``) and, for a failed evaluation, the layer.
    """
    t0 = time.perf_counter()
    settings = settings or {}
    backend = get_backend(backend_name, objective, **settings)

    def class_file(sa: SAClass) -> str | Path:
        return Path(arch_dir) / f"{sa.name}.yaml" if arch_dir is not None else f"SA class '{sa.name}'"

    for sa in classes:
        problems = class_problems(backend.name, sa)
        if problems:
            raise InputError(class_file(sa), *problems[0])
    version = backend.version()
    code = backend_code_hash(backend)
    cache = Cache(cache_dir, backend.name)

    keys: dict[tuple[str, str, str], str] = {}
    todo: dict[str, Task] = {}
    costs: dict[str, LayerCost] = {}
    for model in models:
        for layer in model.layers:
            for sa in classes:
                key = cache_key(backend, version, sa, layer, code)
                keys[(model.name, layer.name, sa.name)] = key
                if key in costs or key in todo:
                    continue
                hit = cache.get(key)
                if hit is not None:
                    costs[key] = hit
                else:
                    todo[key] = Task(key, sa, layer)
    unique = len(costs) + len(todo)
    cached = len(costs)

    if todo:
        tasks = list(todo.values())
        bar = tqdm(total=len(tasks), desc=f"characterize ({backend.name})", unit="eval",
                   disable=not progress, file=sys.stderr)

        def failure(key: str, reason: str) -> InputError:
            task = todo[key]
            model, layer = next((m, lay) for (m, lay, _), k in keys.items() if k == key)
            return InputError(class_file(task.sa), "",
                              f"the {backend.name} backend failed on layer {model}/{layer} of this class: {reason}")

        def record(key: str, cost: LayerCost | None, secs: float, error: str) -> None:
            if cost is None:
                raise failure(key, error)
            task = todo[key]
            cache.put(key, cost, {"sa_class": task.sa.name, "layer_shape": str(task.layer.shape_key()),
                                  "backend": backend.name, "version": version, "settings": backend.settings(),
                                  "seconds": round(secs, 3)})
            costs[key] = cost
            bar.update(1)

        try:
            if jobs <= 1:
                _init_worker(backend_name, objective, settings)
                for task in tasks:
                    record(*_evaluate(task))
            else:
                with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                                         initargs=(backend_name, objective, settings)) as pool:
                    futures = [pool.submit(_evaluate, t) for t in tasks]
                    try:
                        for fut in as_completed(futures):
                            record(*fut.result())
                    except BaseException:
                        pool.shutdown(wait=True, cancel_futures=True)  # only the running evaluations finish
                        raise
        finally:
            bar.close()

    rows = []
    for model in models:
        for layer in model.layers:
            for sa in classes:
                c = costs[keys[(model.name, layer.name, sa.name)]]
                dram = c.dram_read_bytes + c.dram_write_bytes
                rows.append({
                    "model": model.name, "layer": layer.name, "sa_class": sa.name,
                    "N": layer.N, "C": layer.C, "K": layer.K, "R": layer.R, "S": layer.S,
                    "P": layer.P, "Q": layer.Q, "stride": layer.stride[0], "groups": layer.groups,
                    "macs": layer.macs, "cycles": c.cycles, "energy_pj": c.energy_pj,
                    "dram_read_bytes": c.dram_read_bytes, "dram_write_bytes": c.dram_write_bytes,
                    "bandwidth_bpc": dram / c.cycles if c.cycles > 0 else 0.0,
                    "backend": backend.name, "backend_version": version, "objective": objective,
                    "op": layer.op, "stride_w": layer.stride[1], "pad_h": layer.padding[0],
                    "pad_w": layer.padding[1], "utilization": c.utilization,
                })
    df = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    stats = BuildStats(rows=len(df), unique=unique, evaluated=len(todo), cached=cached,
                       seconds=time.perf_counter() - t0)
    return df, stats


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write the table atomically as CSV."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a characterisation table, checking its columns and that every number is finite (and >= 0 or > 0)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "", "table not found (run `relmas characterize` or `snakemake -j8 all` first)")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(path, "", f"not a readable CSV table: {exc}") from None
    missing = [c for c in TABLE_COLUMNS[:21] if c not in df.columns]
    if missing:
        raise InputError(path, "columns", f"missing columns {missing}")
    if df.empty:
        raise InputError(path, "", "table has no rows")
    for col, positive in NUMERIC_COLUMNS.items():
        if col not in df.columns:  # an extra column may be absent
            continue
        values = pd.to_numeric(df[col], errors="coerce")
        bad = ~np.isfinite(values) | ((values <= 0) if positive else (values < 0))
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            r = df.iloc[i]
            raise InputError(path, f"row {i + 2} ({r['model']}/{r['layer']}/{r['sa_class']}).{col}",
                             f"{col} must be a finite number {'> 0' if positive else '>= 0'}, got {df[col].iloc[i]}")
        df[col] = values
    return df
