"""Timeloop v3 + Accelergy v0.3 as the reference characterisation backend.

Each :meth:`TimeloopBackend.evaluate` writes the SA class's Timeloop inputs
(:mod:`characterize.timeloop_spec`) and the layer's problem file into a fresh
temporary folder, runs ``timeloop-mapper`` there with Accelergy's energy and
area tables (made by ``accelergy`` once per SA class and process; with
``energy="class"`` the class file's own per-access energies instead), then
``timeloop-model`` on the chosen mapping, and parses the ``*.stats.txt``
(:mod:`characterize.timeloop_parse`).

* Cycles are stall-free: the mapper searches with DRAM limited to
  ``search_dram_bandwidth`` (16 B/cycle by default, so a DRAM-bound mapping does
  not win), and ``timeloop-model`` then re-evaluates the chosen mapping on the
  same architecture without a DRAM limit; those cycles are reported. On-chip
  buffers keep the bandwidth of their class (one ``width_bits`` access per port
  per cycle).
* The spatial factors of each layer are fixed per (class, layer) by
  :func:`characterize.timeloop_spec.choose_spatial` (highest utilisation the
  dataflow allows); Timeloop searches the temporal mapping.
* The search is bounded and reproducible: one mapper thread by default,
  ``random-pruned`` search (its random generator has a fixed default seed),
  stop after ``victory_condition`` non-improving valid mappings, ``timeout``
  consecutive invalid ones or ``search_size`` valid ones. All of these are
  backend settings, hence part of the characterisation cache key. A wall-clock
  limit (``wall_timeout_s``, not part of the key: it never changes a result)
  turns a runaway search into an error.
* Tool problems are errors, never silent: ``timeloop-mapper`` exits 0 even when
  accelergy fails or no mapping is found, so the stats file is checked for, the
  Accelergy energy table must come from real estimators (not Accelergy's dummy
  table), and the per-level energies must add up to the summary.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from relmas.io import file_sha256, write_text

from .. import timeloop_parse as tp
from .. import timeloop_spec as ts
from ..errors import BackendUnavailable
from ..schema import Layer, SAClass
from .base import Backend, LayerCost

#: Bumped whenever the translation (architecture, constraints, problem shape,
#: parsing) changes, so cached results of an older translation are not reused.
TRANSLATION_VERSION = 1

INSTALL_HINT = (
    "the timeloop backend needs Timeloop v3 (timeloop-mapper, timeloop-model) and Accelergy v0.3 (accelergy) "
    "on PATH. "
    "Get them from the Docker image timeloopaccelergy/accelergy-timeloop-infrastructure "
    "(docker pull timeloopaccelergy/accelergy-timeloop-infrastructure) or build them from source: "
    "https://timeloop.csail.mit.edu/ and https://github.com/NVlabs/timeloop (Timeloop), "
    "https://github.com/Accelergy-Project/accelergy (Accelergy, with its Aladdin and CACTI plug-ins). "
    "See docs/timeloop.md. The default backend, zigzag, needs neither (--backend zigzag)."
)

#: Default settings; every one goes into :meth:`Backend.settings` and the cache key.
DEFAULT_SETTINGS: dict[str, Any] = {
    # "accelergy": energies estimated by Accelergy (Aladdin + CACTI plug-ins, 45 nm);
    # "class": the per-access energies written in arch/<class>.yaml (an ERT given to Timeloop).
    "energy": "accelergy",
    **ts.MapperSettings().to_dict(),
}

#: Settings that never change a result (kept out of the cache key).
RUN_SETTINGS = {"wall_timeout_s": 3600.0, "keep_dir": None}

_TOOLS = ("timeloop-mapper", "timeloop-model", "accelergy")


def _which(tool: str) -> str | None:
    return shutil.which(tool)


def _accelergy_versions(accelergy: str) -> str:
    """Versions of accelergy and its plug-ins, asked from the interpreter that runs the ``accelergy`` script."""
    try:
        with open(accelergy, "rb") as f:
            first = f.readline().decode(errors="replace").strip()
    except OSError:
        return "accelergy (unreadable)"
    python = first[2:].strip().split() if first.startswith("#!") else []
    if not python:
        return "accelergy (unknown)"
    code = ("import importlib.metadata as m\n"
            "out=[]\n"
            "for p in ('accelergy','accelergy-aladdin-plug-in','accelergy-cacti-plug-in'):\n"
            "    try: out.append(p+' '+m.version(p))\n"
            "    except Exception: pass\n"
            "print('; '.join(out))\n")
    try:
        r = subprocess.run([*python, "-c", code], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return "accelergy (unknown)"
    return r.stdout.strip() or "accelergy (unknown)"


_VERSION_CACHE: dict[tuple[str, str], str] = {}
_ERT_CACHE: dict[str, dict[str, str]] = {}
_COUNTER = itertools.count()


def _accelergy_home(home: Path) -> Path | None:
    """A HOME whose Accelergy config points at the plug-ins installed next to the ``accelergy`` found.

    Accelergy 0.3 reads its plug-in paths from one per-user file,
    ``~/.config/accelergy/accelergy_config.yaml``, which every installation
    (another virtual environment, another checkout) overwrites. When the
    ``accelergy`` on PATH has its plug-ins beside it (``<prefix>/share/accelergy``,
    as a pip or kit install lays them out), each run gets a private HOME with a
    config naming them, so the run uses the plug-ins of the Accelergy it runs.
    Returns None (the user's own config is used) otherwise.
    """
    exe = shutil.which("accelergy")
    if exe is None:
        return None
    share = Path(exe).resolve().parent.parent / "share" / "accelergy"
    plug, prim = share / "estimation_plug_ins", share / "primitive_component_libs"
    if not (plug.is_dir() and prim.is_dir()):
        return None
    cfg = home / ".config" / "accelergy" / "accelergy_config.yaml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(f"version: 0.3\nestimator_plug_ins:\n  - {plug}\nprimitive_components:\n  - {prim}\n"
                   "compound_components: []\n")
    return home


class TimeloopBackend(Backend):
    """Timeloop v3 + Accelergy v0.3 (``timeloop-mapper`` and ``accelergy`` on PATH).

    Settings (all part of the cache key except ``wall_timeout_s`` and ``keep_dir``):
    ``energy`` ("accelergy" or "class"), ``algorithm``, ``threads``,
    ``victory_condition``, ``timeout``, ``search_size``,
    ``max_permutations_per_if_visit`` (see :class:`characterize.timeloop_spec.MapperSettings`),
    ``wall_timeout_s`` (seconds before a mapper run is killed and reported as an error),
    ``keep_dir`` (a folder where each evaluation's Timeloop files are kept, for inspection).
    ``objective`` maps to the mapper's ``optimization-metrics``: latency -> [delay, energy],
    energy -> [energy, delay], edp -> [edp].
    """

    #: modules whose source is part of the cache key (how classes and layers are translated)
    code_modules = ("characterize.timeloop_spec", "characterize.timeloop_parse")
    name = "timeloop"

    def __init__(self, objective: str = "latency", **settings: Any):
        run = {k: settings.pop(k, v) for k, v in RUN_SETTINGS.items()}
        unknown = set(settings) - set(DEFAULT_SETTINGS)
        if unknown:
            raise ValueError(f"unknown timeloop backend setting(s) {sorted(unknown)} "
                             f"(known: {', '.join([*DEFAULT_SETTINGS, *RUN_SETTINGS])})")
        merged = {**DEFAULT_SETTINGS, **settings}
        if merged["energy"] not in ("accelergy", "class"):
            raise ValueError(f"timeloop backend: energy must be 'accelergy' or 'class', got {merged['energy']!r}")
        self.mapper = ts.MapperSettings(**{k: merged[k] for k in ts.MapperSettings().to_dict()})
        merged["translation_version"] = TRANSLATION_VERSION
        super().__init__(objective=objective, **merged)
        try:
            self.wall_timeout_s = float(run["wall_timeout_s"])
        except (TypeError, ValueError):
            raise ValueError(f"timeloop backend: wall_timeout_s must be a number, got {run['wall_timeout_s']!r}") \
                from None
        if self.wall_timeout_s <= 0:
            raise ValueError("timeloop backend: wall_timeout_s must be positive")
        self.keep_dir = Path(run["keep_dir"]) if run["keep_dir"] else None

    # ------------------------------------------------------------------ #

    @classmethod
    def check_available(cls) -> None:
        """Raise BackendUnavailable (saying how to get Timeloop) unless the tools are on PATH."""
        missing = [t for t in _TOOLS if _which(t) is None]
        if missing:
            raise BackendUnavailable(f"{' and '.join(missing)} not found on PATH: {INSTALL_HINT}")

    def version(self) -> str:
        """``timeloop-mapper sha256:<12 hex>; accelergy <v>; ...plug-in versions``.

        Timeloop v3 has no version flag, so the mapper binary is identified by
        its hash (a different build may map differently); Accelergy and its
        plug-ins by their package versions.
        """
        self.check_available()
        mapper, acc = _which("timeloop-mapper"), _which("accelergy")
        assert mapper and acc
        key = (os.path.realpath(mapper), os.path.realpath(acc))
        if key not in _VERSION_CACHE:
            real = Path(key[0])
            digest = file_sha256(real)
            lib = real.parent.parent / "lib" / "libtimeloop-mapper.so"
            if lib.is_file():
                digest = hashlib.sha256((digest + file_sha256(lib)).encode()).hexdigest()
            _VERSION_CACHE[key] = f"timeloop-mapper sha256:{digest[:12]}; {_accelergy_versions(acc)}"
        return _VERSION_CACHE[key]

    # ------------------------------------------------------------------ #

    def write_inputs(self, sa: SAClass, layer: Layer, folder: Path) -> list[Path]:
        """Write every input file of one evaluation into ``folder``; return them in command order.

        With ``energy="accelergy"`` the energy (and area) reference tables are made by running
        ``accelergy`` once per SA class and process (see :meth:`reference_tables`) and given to
        timeloop-mapper as inputs, which then does not call accelergy itself.
        """
        energy = self.settings()["energy"]
        files = ts.write_arch_dir(sa, folder / "arch", self.mapper, self.objective, energy)
        if energy == "accelergy":
            for name, text in self.reference_tables(sa).items():
                p = folder / "arch" / name
                write_text(p, text)
                if name != "ERT_summary.yaml":  # kept for the estimator check, not a Timeloop input
                    files.append(p)
        if self.mapper.spatial == "fixed":
            files.append(ts.write_spatial_constraints(sa, layer, folder / "spatial.yaml"))
        files.append(ts.write_problem(layer, folder / "problem.yaml"))
        return files

    def reference_tables(self, sa: SAClass) -> dict[str, str]:
        """``{"ERT.yaml": text, "ART.yaml": text}`` from Accelergy for ``sa`` (cached per process).

        Accelergy is run with a unique output prefix: its CACTI plug-in names a scratch
        config file after the prefix and the current second in a folder shared by all
        runs, so concurrent runs with timeloop-mapper's fixed prefix collide.
        """
        arch_text = ts._dump(ts.arch_spec(sa)) + ts._dump(ts.components_spec())
        key = hashlib.sha256(arch_text.encode()).hexdigest()
        if key in _ERT_CACHE:
            return _ERT_CACHE[key]
        with tempfile.TemporaryDirectory(prefix="relmas-accelergy-") as d:
            folder = Path(d)
            files = ts.write_arch_dir(sa, folder / "arch", self.mapper, self.objective, "accelergy")
            inputs = [f for f in files if f.name not in ("constraints.yaml", "mapper.yaml")]
            out = folder / "out"
            tmp = folder / "tmp"
            out.mkdir()
            tmp.mkdir()
            prefix = f"relmas-{os.getpid()}-{next(_COUNTER)}-{key[:8]}."
            env = {**os.environ, "TMPDIR": str(tmp), "TMP": str(tmp), "TEMP": str(tmp)}
            home = _accelergy_home(folder / "home")
            if home is not None:
                env["HOME"] = str(home)
            log = out / "accelergy.log"
            try:
                with open(log, "w") as fh:
                    proc = subprocess.run(["accelergy", *map(str, inputs), "-o", str(out), "--oprefix", prefix],
                                          cwd=out, env=env, stdin=subprocess.DEVNULL, stdout=fh,
                                          stderr=subprocess.STDOUT, timeout=self.wall_timeout_s)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"timeloop backend: accelergy ran longer than {self.wall_timeout_s:g} s "
                                   f"for {sa.name}") from None
            ert, art, summary = (out / f"{prefix}{n}.yaml" for n in ("ERT", "ART", "ERT_summary"))
            if proc.returncode != 0 or not ert.is_file() or not summary.is_file():
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"timeloop backend: accelergy failed for SA class {sa.name} "
                                   f"(exit {proc.returncode}):\n{tail}")
            self._check_estimators(summary, sa.name)
            tables = {"ERT.yaml": ert.read_text()}
            if art.is_file():
                tables["ART.yaml"] = art.read_text()
            tables["ERT_summary.yaml"] = summary.read_text()
        _ERT_CACHE[key] = tables
        return tables

    def evaluate(self, sa: SAClass, layer: Layer) -> LayerCost:
        """Run timeloop-mapper on ``layer`` for ``sa`` and return the best mapping's cost."""
        self.check_available()
        t0 = time.perf_counter()
        if self.keep_dir is not None:
            self.keep_dir.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=f"{sa.name}-{layer.name}-", dir=self.keep_dir))
        else:
            work = Path(tempfile.mkdtemp(prefix="relmas-timeloop-"))
        try:
            return self._evaluate_in(work, sa, layer, t0)
        finally:
            if self.keep_dir is None:
                shutil.rmtree(work, ignore_errors=True)

    def _run(self, tool: str, args: list[Path], cwd: Path, env: dict[str, str], where: str, work: Path) -> str:
        """Run a Timeloop tool in ``cwd`` (stdout+stderr to ``<tool>.out``); return its output."""
        log_path = cwd / f"{tool}.out"
        try:
            with open(log_path, "w") as log:
                proc = subprocess.run([tool, *map(str, args)], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=subprocess.STDOUT, timeout=self.wall_timeout_s)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"timeloop backend: {tool} ran longer than {self.wall_timeout_s:g} s on {where}; "
                               f"lower victory_condition/search_size or raise wall_timeout_s "
                               f"(inputs: {work if self.keep_dir else 'set keep_dir to keep them'})") from None
        out = log_path.read_text(errors="replace")
        if "Failed to run Accelergy" in out:  # only if the tool called accelergy itself
            acc_log = cwd / f"{tool}.accelergy.log"
            tail = acc_log.read_text(errors="replace")[-2000:] if acc_log.is_file() else "(no accelergy log)"
            raise RuntimeError(f"timeloop backend: accelergy failed for {where}:\n{tail}")
        stats_path = cwd / f"{tool}.stats.txt"
        if proc.returncode != 0 or not stats_path.is_file():
            raise RuntimeError(
                f"timeloop backend: {tool} (exit {proc.returncode}) wrote no {stats_path.name} for {where}"
                f" (no valid mapping within the search limits, or a bad input):\n{out[-2000:]}")
        return out

    def _evaluate_in(self, work: Path, sa: SAClass, layer: Layer, t0: float) -> LayerCost:
        files = self.write_inputs(sa, layer, work)
        run = work / "run"
        tmp = work / "tmp"
        run.mkdir()
        tmp.mkdir()
        # The CACTI plug-in leaves a scratch file per query in $TMPDIR: keep them in this run's folder.
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELOOP_")}
        env.update(TMPDIR=str(tmp), TMP=str(tmp), TEMP=str(tmp))
        where = f"{sa.name}/{layer.name}"
        t_map = time.perf_counter()
        self._run("timeloop-mapper", files, run, env, where, work)
        mapper_s = time.perf_counter() - t_map
        estimators = (self._check_estimators(work / "arch" / "ERT_summary.yaml", where)
                      if self.settings()["energy"] == "accelergy" else ["class"])
        searched = tp.parse_stats(run / tp.STATS_FILE)
        searched.check_energy()
        if searched.computes != layer.macs:
            raise RuntimeError(f"timeloop backend: Timeloop evaluated {searched.computes} MACs for {where}, "
                               f"the layer has {layer.macs} ({run / tp.STATS_FILE})")
        stats = searched
        if self.mapper.search_dram_bandwidth > 0:
            # The search saw the DRAM bandwidth; the reported cycles are the chosen mapping's stall-free ones.
            model = run / "stall_free"
            model.mkdir()
            arch = work / "arch"
            inputs = [arch / ts.STALL_FREE_DIR / "arch.yaml", *sorted((arch / "components").glob("*.yaml"))]
            inputs += [arch / n for n in ("ERT.yaml", "ART.yaml") if (arch / n).is_file()]
            inputs += [work / "problem.yaml", run / tp.MAP_YAML_FILE]
            self._run("timeloop-model", inputs, model, env, where, work)
            stats = tp.parse_stats(model / "timeloop-model.stats.txt")
            stats.check_energy()
            if (stats.computes != searched.computes or stats.dram_words() != searched.dram_words()
                    or abs(stats.energy_pj - searched.energy_pj) > 1e-6 * abs(searched.energy_pj) + 0.01):
                raise RuntimeError(f"timeloop backend: timeloop-model re-evaluated the mapping of {where} with other "
                                   f"access counts than timeloop-mapper ({model})")
        map_yaml = tp.parse_map_yaml(run / tp.MAP_YAML_FILE)
        map_txt = (run / tp.MAP_TXT_FILE).read_text()
        cycles = float(stats.cycles)
        details = {
            "mapping": map_txt,
            "spatial": {t: ax for t in map_yaml if any((ax := tp.spatial_axes(map_yaml, t)).values())},
            "energy_by_level_pj": {k: round(v, 2) for k, v in stats.energy_by_level_pj.items()},
            "dram_words": stats.dram_words(),
            "dram_word_bits": stats.dram_word_bits,
            "search_cycles": float(searched.cycles),
            "timeloop_utilization": stats.utilization,
            "utilized_macs": stats.utilized_macs,
            "energy_estimators": estimators,
            "mapper_seconds": round(mapper_s, 3),
            "seconds": round(time.perf_counter() - t0, 3),
        }
        if self.keep_dir is not None:
            details["workdir"] = str(work)
        return LayerCost(
            cycles=cycles,
            energy_pj=stats.energy_pj,
            dram_read_bytes=stats.dram_read_bytes,
            dram_write_bytes=stats.dram_write_bytes,
            utilization=layer.macs / (cycles * sa.peak_macs_per_cycle) if cycles > 0 else 0.0,
            details=details,
        )

    @staticmethod
    def _check_estimators(summary: Path, where: str) -> list[str]:
        """Estimators behind Accelergy's energy table; Accelergy's dummy table is refused."""
        try:
            data = yaml.safe_load(summary.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise RuntimeError(f"timeloop backend: cannot read {summary} for {where}: {exc}") from None
        used: set[str] = set()
        dummy: list[str] = []
        for comp in (data or {}).get("ERT_summary", {}).get("table_summary", []) or []:
            for est in comp.get("primitive_estimation(s)", []) or []:
                e = str(est.get("estimator", ""))
                used.add(e)
                if "dummy" in e.lower():
                    dummy.append(f"{comp.get('name')} ({est.get('name')})")
        if dummy:
            raise RuntimeError(
                f"timeloop backend: Accelergy had no real estimator for {', '.join(dummy)} on {where} and used its "
                f"dummy table; install the Aladdin and CACTI plug-ins (see docs/timeloop.md) or use energy='class'")
        return sorted(used)
