"""Parse Timeloop v3 output: ``timeloop-mapper.stats.txt``, ``.map.txt`` and ``.map.yaml``.

``stats.txt`` is a text report with one block per level (``Level 0`` is the
arithmetic level, then storage levels innermost first), one block per network,
and a summary at the end::

    Level 6
    -------
    === DRAM ===
        SPECS
        -----
            Word bits                   : 16
            ...
        STATS
        -----
        Cycles               : 958464
        Weights:
            Scalar reads (per-instance)              : 884736
            Scalar updates (per-instance)            : 0
            ...
            Energy (total)                           : 113246208.00 pJ
    ...
    Summary Stats
    -------------
    Utilization: 0.93
    Cycles: 958464
    Energy: 940.88 uJ

The parser reads every ``key : value`` line of every level and data space
(values kept as numbers where they are numbers), then derives what the toolkit
needs: cycles, total energy in pJ (summed from the per-level figures, which
carry 2 decimals of pJ, and checked against the rounded summary), per-level
energy, MACs, utilisation, and DRAM traffic per data space. DRAM reads of a
data space are its ``Scalar reads`` at the outermost storage level (fills there
are zero: nothing is above DRAM), DRAM writes its ``Scalar updates``; both are
words of the DRAM level's ``Word bits``, so bytes = words x word bits / 8.
Per-instance counts are multiplied by the utilised instances (1 for DRAM).

Every error names the file and line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STATS_FILE = "timeloop-mapper.stats.txt"
MAP_TXT_FILE = "timeloop-mapper.map.txt"
MAP_YAML_FILE = "timeloop-mapper.map.yaml"

_ENERGY_UNITS_PJ = {"pJ": 1.0, "nJ": 1e3, "uJ": 1e6, "mJ": 1e9, "J": 1e12, "fJ": 1e-3}


class TimeloopOutputError(ValueError):
    """A Timeloop output file is missing, malformed or self-inconsistent."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


def _number(text: str) -> Any:
    """``'958464'`` -> 958464, ``'0.93'`` -> 0.93, ``'18.54 pJ'`` -> 18.54, ``'-'`` -> None, else the text."""
    t = text.strip()
    if t in ("-", "- pJ", ""):
        return None
    m = re.fullmatch(r"([-+]?\d+)(?:\s+\(.*\))?", t)  # "168 (14*12)"
    if m:
        return int(m.group(1))
    m = re.fullmatch(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\s*[A-Za-z/^0-9*]+.*)?", t)
    if m:
        return float(m.group(1))
    return t


@dataclass
class DataSpaceStats:
    """Statistics of one data space (Weights, Inputs, Outputs) at one storage level."""

    name: str
    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = 0) -> Any:
        v = self.values.get(key)
        return default if v is None else v

    @property
    def instances(self) -> int:
        return int(self.get("Utilized instances (max)", 1))

    def total(self, per_instance_key: str) -> float:
        """A per-instance count times the utilised instances."""
        return float(self.get(f"{per_instance_key} (per-instance)")) * self.instances

    @property
    def reads(self) -> float:
        return self.total("Scalar reads")

    @property
    def updates(self) -> float:
        return self.total("Scalar updates")

    @property
    def fills(self) -> float:
        return self.total("Scalar fills")

    @property
    def utilized_capacity(self) -> int:
        return int(self.get("Utilized capacity"))

    @property
    def energy_pj(self) -> float:
        """Access energy plus temporal-reduction and address-generation energy, all instances."""
        return (float(self.get("Energy (total)")) + float(self.get("Temporal Reduction Energy (total)"))
                + float(self.get("Address Generation Energy (total)")))


@dataclass
class LevelStats:
    """One level of the report: ``kind`` is ``"arithmetic"`` (level 0) or ``"storage"``."""

    index: int
    name: str
    kind: str
    specs: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    dataspaces: dict[str, DataSpaceStats] = field(default_factory=dict)
    loop_nest: list[str] = field(default_factory=list)

    @property
    def word_bits(self) -> int:
        return int(self.specs.get("Word bits") or 0)

    @property
    def instances(self) -> int:
        return int(self.specs.get("Instances") or 0)

    @property
    def energy_pj(self) -> float:
        if self.kind == "arithmetic":
            return float(self.stats.get("Energy (total)") or 0.0)
        return sum(ds.energy_pj for ds in self.dataspaces.values())


@dataclass
class NetworkStats:
    """One network between two storage levels (``DRAM <==> glb``)."""

    name: str
    dataspaces: dict[str, DataSpaceStats] = field(default_factory=dict)

    @property
    def energy_pj(self) -> float:
        return sum(float(ds.get("Energy (total)")) + float(ds.get("Link transfer energy (total)"))
                   + float(ds.get("Spatial Reduction Energy (total)")) for ds in self.dataspaces.values())


@dataclass
class TimeloopStats:
    """Everything read from one ``timeloop-mapper.stats.txt``."""

    path: str
    levels: list[LevelStats]
    networks: list[NetworkStats]
    summary: dict[str, Any]
    fj_per_compute: dict[str, float]

    # ---- summary figures ----------------------------------------------------
    @property
    def cycles(self) -> int:
        return int(self.summary["Cycles"])

    @property
    def summary_energy_pj(self) -> float:
        """The summary's ``Energy:`` line (printed with 2 decimals, usually in uJ)."""
        return float(self.summary["Energy_pJ"])

    @property
    def utilization(self) -> float:
        """The summary's ``Utilization:`` (2 decimals)."""
        return float(self.summary["Utilization"])

    @property
    def computes(self) -> int:
        """MACs Timeloop evaluated (``Computes = N`` in the summary)."""
        return int(self.summary["Computes"])

    # ---- levels ---------------------------------------------------------------
    @property
    def arithmetic(self) -> LevelStats:
        return self.levels[0]

    @property
    def storage_levels(self) -> list[LevelStats]:
        """Storage levels, innermost first (report order)."""
        return [lvl for lvl in self.levels if lvl.kind == "storage"]

    def level(self, name: str) -> LevelStats:
        for lvl in self.levels:
            if lvl.name == name:
                return lvl
        raise KeyError(f"{self.path}: no level '{name}' (levels: {', '.join(l.name for l in self.levels)})")

    @property
    def dram(self) -> LevelStats:
        """The outermost storage level (DRAM)."""
        return self.storage_levels[-1]

    # ---- derived ----------------------------------------------------------------
    @property
    def energy_pj(self) -> float:
        """Total energy in pJ: the sum of every level's and network's energy (2-decimal pJ figures)."""
        return sum(lvl.energy_pj for lvl in self.levels) + sum(n.energy_pj for n in self.networks)

    @property
    def energy_by_level_pj(self) -> dict[str, float]:
        out = {lvl.name: lvl.energy_pj for lvl in self.levels}
        for n in self.networks:
            if n.energy_pj:
                out[n.name] = n.energy_pj
        return out

    @property
    def utilized_macs(self) -> int:
        """Utilised MAC instances of the arithmetic level."""
        return int(self.arithmetic.stats.get("Utilized instances") or 0)

    @property
    def total_macs(self) -> int:
        """MAC instances of the arithmetic level."""
        return self.arithmetic.instances

    def dram_words(self) -> dict[str, dict[str, float]]:
        """``{data space: {"read": words, "write": words}}`` at the outermost level."""
        return {name: {"read": ds.reads, "write": ds.updates + ds.fills}
                for name, ds in self.dram.dataspaces.items()}

    @property
    def dram_word_bits(self) -> int:
        return self.dram.word_bits

    def dram_bytes(self) -> dict[str, dict[str, float]]:
        """DRAM traffic per data space in bytes (words x DRAM word bits / 8)."""
        wb = self.dram_word_bits
        return {k: {d: w * wb / 8 for d, w in v.items()} for k, v in self.dram_words().items()}

    @property
    def dram_read_bytes(self) -> float:
        return sum(v["read"] for v in self.dram_bytes().values())

    @property
    def dram_write_bytes(self) -> float:
        return sum(v["write"] for v in self.dram_bytes().values())

    def check_energy(self) -> None:
        """Raise if the per-level energies do not add up to the summary (beyond its rounding)."""
        total, summ = self.energy_pj, self.summary_energy_pj
        unit = self.summary.get("Energy_unit_pJ", 1e6)
        if abs(total - summ) > 0.5 * 10 ** -self.summary.get("Energy_decimals", 2) * unit + 1e-9 * abs(summ) + 1e-6:
            raise TimeloopOutputError(
                self.path, f"per-level energies sum to {total:.2f} pJ but the summary says {summ:.2f} pJ")


# --------------------------------------------------------------------------- #
# stats.txt

_KV = re.compile(r"^(\s*)([^:]+?)\s*:\s*(.*?)\s*$")


def parse_stats(path: str | Path) -> TimeloopStats:
    """Parse a ``timeloop-mapper.stats.txt`` (or ``timeloop-model.stats.txt``)."""
    path = Path(path)
    if path.is_dir():
        path = path / STATS_FILE
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise TimeloopOutputError(path, "stats file not found (timeloop-mapper found no valid mapping, or "
                                        "accelergy failed: see timeloop-mapper.accelergy.log)") from None
    except UnicodeDecodeError:
        raise TimeloopOutputError(path, "not a text file") from None
    if not lines:
        raise TimeloopOutputError(path, "file is empty")

    levels: list[LevelStats] = []
    networks: list[NetworkStats] = []
    summary: dict[str, Any] = {}
    fj: dict[str, float] = {}
    section = "start"
    level: LevelStats | None = None
    network: NetworkStats | None = None
    part = ""  # SPECS / MAPPING / STATS within a level
    ds: DataSpaceStats | None = None
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        s = line.strip()
        lineno = i + 1
        nxt = lines[i + 1].strip() if i + 1 < n else ""
        is_heading = bool(nxt) and set(nxt) == {"-"} and not s.startswith("|")
        if is_heading and re.fullmatch(r"Level \d+", s):
            section, part, ds, network = "level", "", None, None
            idx = int(s.split()[1])
            j = i + 2
            while j < n and not lines[j].strip():
                j += 1
            m = re.fullmatch(r"=== (.+) ===", lines[j].strip()) if j < n else None
            if not m:
                raise TimeloopOutputError(path, f"'{s}' is not followed by '=== <name> ==='", lineno)
            level = LevelStats(index=idx, name=m.group(1), kind="arithmetic" if idx == 0 else "storage")
            levels.append(level)
            i = j + 1
            continue
        if is_heading and s == "Networks":
            section, level, ds = "networks", None, None
            i += 2
            continue
        if is_heading and re.fullmatch(r"Network \d+", s):
            section, ds = "network", None
            j = i + 2
            while j < n and not lines[j].strip():
                j += 1
            network = NetworkStats(name=lines[j].strip() if j < n else s)
            networks.append(network)
            i = j + 1
            continue
        if is_heading and s == "Operational Intensity Stats":
            section, level, network, ds = "intensity", None, None, None
            i += 2
            continue
        if is_heading and s == "Summary Stats":
            section, level, network, ds = "summary", None, None, None
            i += 2
            continue
        if section == "level" and level is not None:
            if s in ("SPECS", "MAPPING", "STATS") and set(nxt) == {"-"}:
                part, ds = s, None
                i += 2
                continue
            if part == "MAPPING":
                if s and s != "Loop nest:":
                    level.loop_nest.append(s)
            elif s:
                m = re.fullmatch(r"(\w[\w ]*):", s)
                if m and part == "STATS" and level.kind == "storage":
                    ds = DataSpaceStats(m.group(1))
                    level.dataspaces[ds.name] = ds
                else:
                    kv = _KV.match(line)
                    if kv:
                        key, val = kv.group(2), _number(kv.group(3))
                        if part == "SPECS":
                            level.specs[key] = val
                        elif ds is not None:
                            ds.values[key] = val
                        else:
                            level.stats[key] = val
        elif section == "network" and network is not None:
            if s in ("SPECS", "STATS") and set(nxt) == {"-"}:
                i += 2
                ds = None
                continue
            m = re.fullmatch(r"(\w[\w ]*):", s)
            if m:
                ds = DataSpaceStats(m.group(1))
                network.dataspaces[ds.name] = ds
            elif ds is not None and s and not s.startswith("@"):
                kv = _KV.match(line)
                if kv:
                    ds.values[kv.group(2)] = _number(kv.group(3))
        elif section == "summary":
            if s.startswith("Computes ="):
                summary["Computes"] = int(s.split("=", 1)[1])
            elif s == "fJ/Compute":
                section = "fj"
            elif s:
                kv = _KV.match(line)
                if kv:
                    key, raw = kv.group(2), kv.group(3)
                    if key == "Energy":
                        m = re.fullmatch(r"([-+]?\d+(?:\.(\d*))?)\s*([munpf]?J)", raw)
                        if not m:
                            raise TimeloopOutputError(path, f"cannot read the energy '{raw}'", lineno)
                        unit = _ENERGY_UNITS_PJ[m.group(3)]
                        summary["Energy_pJ"] = float(m.group(1)) * unit
                        summary["Energy_unit_pJ"] = unit
                        summary["Energy_decimals"] = len(m.group(2) or "")
                    summary[key] = _number(raw)
        elif section == "fj":
            m = re.fullmatch(r"(.+?)\s*=\s*([-+\d.eE]+)", s)
            if m:
                fj[m.group(1)] = float(m.group(2))
        i += 1

    if not levels:
        raise TimeloopOutputError(path, "no 'Level N' blocks: not a Timeloop stats file")
    if levels[0].kind != "arithmetic" or len(levels) < 2:
        raise TimeloopOutputError(path, "expected an arithmetic level 0 and at least one storage level")
    for key in ("Cycles", "Energy_pJ", "Computes"):
        if key not in summary:
            raise TimeloopOutputError(path, f"no '{key.split('_')[0]}' line in 'Summary Stats' (truncated file?)")
    if not levels[-1].dataspaces:
        raise TimeloopOutputError(path, f"outermost level '{levels[-1].name}' has no data-space statistics")
    return TimeloopStats(path=str(path), levels=levels, networks=networks, summary=summary, fj_per_compute=fj)


# --------------------------------------------------------------------------- #
# map.txt

@dataclass(frozen=True)
class Loop:
    """One loop of a mapping: ``for M in [0:12) (Spatial-X)``."""

    dim: str
    start: int
    end: int
    spatial: str | None = None  # "X", "Y" or None (temporal)

    @property
    def bound(self) -> int:
        return self.end - self.start


@dataclass
class MapLevel:
    """A storage level of ``map.txt`` with its tile sizes and the loops directly below it."""

    name: str
    tiles: dict[str, int]
    loops: list[Loop]

    def spatial_factors(self, axis: str | None = None) -> dict[str, int]:
        """Product of spatial loop bounds per dimension (on one axis, or both)."""
        out: dict[str, int] = {}
        for lp in self.loops:
            if lp.spatial and (axis is None or lp.spatial == axis):
                out[lp.dim] = out.get(lp.dim, 1) * lp.bound
        return out

    def temporal_factors(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for lp in self.loops:
            if not lp.spatial:
                out[lp.dim] = out.get(lp.dim, 1) * lp.bound
        return out


_MAP_HEAD = re.compile(r"^(\S+) \[(.*)\]\s*$")
_MAP_LOOP = re.compile(r"^[|\s]*for (\w+) in \[(\d+):(\d+)\)(?:\s*\(Spatial-([XY])\))?\s*$")


def parse_map_txt(path: str | Path) -> list[MapLevel]:
    """Parse ``timeloop-mapper.map.txt``: storage levels outermost first, each with its loops."""
    path = Path(path)
    if path.is_dir():
        path = path / MAP_TXT_FILE
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise TimeloopOutputError(path, "map file not found") from None
    out: list[MapLevel] = []
    for lineno, line in enumerate(lines, 1):
        s = line.rstrip()
        if not s.strip() or set(s.strip()) == {"-"}:
            continue
        m = _MAP_HEAD.match(s)
        if m and "for " not in s:
            tiles = {k: int(v) for k, v in re.findall(r"(\w+):(\d+)(?:\s*\(\d+\))?", m.group(2))}
            out.append(MapLevel(m.group(1), tiles, []))
            continue
        m = _MAP_LOOP.match(s)
        if m:
            if not out:
                raise TimeloopOutputError(path, "a loop before any level heading", lineno)
            out[-1].loops.append(Loop(m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)))
            continue
        raise TimeloopOutputError(path, f"unrecognised line: {s.strip()!r}", lineno)
    if not out:
        raise TimeloopOutputError(path, "no mapping levels found")
    return out


def parse_map_yaml(path: str | Path) -> dict[str, dict[str, Any]]:
    """Parse ``timeloop-mapper.map.yaml`` into ``{target: {"keep", "bypass", "temporal", "spatial", ...}}``.

    ``temporal``/``spatial`` are ``{dim: factor}``; ``permutation`` strings are kept as given
    (innermost dimension first), ``split`` is the X/Y split of the spatial permutation.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MAP_YAML_FILE
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise TimeloopOutputError(path, "map file not found") from None
    except yaml.YAMLError as exc:
        raise TimeloopOutputError(path, f"YAML syntax error: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("mapping"), list):
        raise TimeloopOutputError(path, "expected a top-level 'mapping:' list")
    out: dict[str, dict[str, Any]] = {}
    for k, entry in enumerate(data["mapping"]):
        if not isinstance(entry, dict) or "target" not in entry or "type" not in entry:
            raise TimeloopOutputError(path, f"mapping[{k}] has no target/type")
        t = out.setdefault(str(entry["target"]), {})
        kind = entry["type"]
        if kind in ("datatype", "bypass"):
            t["keep"] = list(entry.get("keep") or [])
            t["bypass"] = list(entry.get("bypass") or [])
        elif kind in ("temporal", "spatial"):
            factors = {d: int(f) for d, f in re.findall(r"([A-Za-z]+)(\d+)", str(entry.get("factors", "")))}
            t[kind] = factors
            t[f"{kind}_permutation"] = str(entry.get("permutation", ""))
            if kind == "spatial" and "split" in entry:
                t["split"] = int(entry["split"])
        else:
            raise TimeloopOutputError(path, f"mapping[{k}] has unknown type '{kind}'")
    return out


def spatial_axes(map_yaml: dict[str, dict[str, Any]], target: str) -> dict[str, dict[str, int]]:
    """``{"X": {dim: factor}, "Y": {...}}`` of a target's spatial mapping (factors > 1 only)."""
    t = map_yaml.get(target, {})
    factors, perm, split = t.get("spatial", {}), t.get("spatial_permutation", ""), t.get("split", 0)
    axes: dict[str, dict[str, int]] = {"X": {}, "Y": {}}
    for pos, d in enumerate(perm):
        f = factors.get(d, 1)
        if f > 1:
            axes["X" if pos < split else "Y"][d] = f
    return axes
