"""Timeloop v3 / Accelergy v0.3 input files for the SA classes and layers.

Everything Timeloop needs to cost one layer on one SA class is produced here as
plain Python dicts (written out as YAML by :func:`write_arch_dir` and
:func:`write_problem`): the architecture (``arch.yaml``), the Accelergy compound
components it uses (``components/relmas_storage.yaml``), the constraints that
enforce the class's dataflow (``constraints.yaml``), the mapper settings
(``mapper.yaml``) and, per layer, a problem file. The format is the v0.3 one of
the timeloop-accelergy-exercises up to September 2022 (``architecture:`` with
``subtree``/``local``), the format Timeloop v3.0.x and Accelergy 0.3 read.

Translation of an SA class (see docs/timeloop.md for the reasons)::

    system (technology 45nm)
      DRAM                      class DRAM, LPDDR4; bandwidth limited only in the search architecture
      <sa.name>
        <global_buffer>         relmas_SRAM / relmas_regfile, holds what the class says
        DummyBuffer[0..cols-1]  row-stationary only: one per PE column, holds nothing
        PE[0..rows*cols-1]      meshX = pe_array.cols
          <pe_buffers>          input-holding first, then weight, then output (outer -> inner)
          mac[0..v-1]           intmac; v = macs_per_pe (the Simba 4x4 vector), meshX = cols*vector.cols

Layer dimensions use a spelled-out grouped-convolution problem shape
``relmas-grouped-conv`` with dimensions G C M R S N P Q (C and M per group), so
the files need no TIMELOOP_DIR. R and P pair with the vertical stride
``Hstride`` (the schema's R = filter rows, P = output rows, stride[0] =
vertical), S and Q with ``Wstride``. Timeloop v3 has no padding: the input
tensor it moves is the padded one, ((P-1)*stride + R) x ((Q-1)*stride + S).

Per (class, layer), :func:`write_spatial_constraints` fixes the spatial factors
(:func:`choose_spatial`) as ``mapspace_constraints``; Timeloop searches the
temporal mapping around them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from relmas.io import write_text

from .schema import Dataflow, Layer, Memory, SAClass

#: Technology node given to Accelergy (the class files' energy figures are 45 nm ones too).
TECHNOLOGY = "45nm"
#: DRAM type for Accelergy's CACTI plug-in table (LPDDR4: 8 pJ/bit; the class files say 20 pJ/bit,
#: which the ``energy="class"`` mode uses instead).
DRAM_TYPE = "LPDDR4"
#: Buffers at least this big are SRAM (CACTI); smaller ones register files (Aladdin).
SRAM_MIN_BYTES = 1024
#: Name of the problem shape written into every problem file.
SHAPE_NAME = "relmas-grouped-conv"
DIMS = ("G", "C", "M", "R", "S", "N", "P", "Q")
DATASPACES = ("Weights", "Inputs", "Outputs")
_OPERAND_DS = {"weight": "Weights", "input": "Inputs", "output": "Outputs"}
_OPERAND_ORDER = {"input": 0, "weight": 1, "output": 2}
RESERVED_NAMES = ("DRAM", "DummyBuffer", "mac", "PE", "system")

#: Mapper optimisation metrics per objective of the toolkit (lexicographic, as Timeloop applies them).
OBJECTIVE_METRICS: dict[str, list[str]] = {
    "latency": ["delay", "energy"],
    "energy": ["energy", "delay"],
    "edp": ["edp"],
}


# --------------------------------------------------------------------------- #
# Mapper settings


@dataclass(frozen=True)
class MapperSettings:
    """Search settings of ``timeloop-mapper`` (all of them change the result).

    Attributes:
        algorithm: Timeloop search algorithm. ``random-pruned`` draws index
            factorisations at random from a default-seeded generator, so the same
            inputs and thread count give the same sequence of mappings.
        threads: mapper threads. The mapspace is split between threads, so the
            result depends on this number; with more than one thread the final
            best is merged across threads in completion order, which can pick a
            different mapping among equally good ones. One thread is exactly
            reproducible.
        victory_condition: stop after this many consecutive valid mappings that
            do not improve on the best.
        timeout: stop after this many consecutive invalid mappings (a count of
            mappings, not a time).
        search_size: stop after this many valid mappings in total (0: no limit).
        max_permutations_per_if_visit: loop permutations tried per factorisation.
        spatial: ``"fixed"``: the spatial factors of each layer are chosen here
            (:func:`choose_spatial`: the highest spatial utilisation the dataflow
            allows, ties broken by the dataflow's own preference) and written as
            per-(class, layer) ``mapspace_constraints``; Timeloop searches the
            temporal mapping. ``"search"``: Timeloop's random search also picks
            the spatial factors within the dataflow constraints (as in the
            exercises; far slower to reach a well-utilised mapping).
        search_dram_bandwidth: DRAM bandwidth in bytes per cycle that the
            *search* sees (0: unlimited). Timeloop ranks mappings by their cycles
            under it, so a mapping that would be DRAM-bound on the real system
            does not win by a fraction of a percent of stall-free cycles; the
            chosen mapping is then re-evaluated by ``timeloop-model`` on the
            architecture without a DRAM limit, whose cycles are the stall-free
            cycles reported. The default is the paper's 16 GB/s at 1 GHz.
    """

    algorithm: str = "random-pruned"
    threads: int = 1
    victory_condition: int = 100
    timeout: int = 2000
    search_size: int = 1000
    max_permutations_per_if_visit: int = 16
    spatial: str = "fixed"
    search_dram_bandwidth: float = 16.0

    def __post_init__(self) -> None:
        if self.algorithm not in ("random-pruned", "linear-pruned", "hybrid", "exhaustive", "random"):
            raise ValueError(f"unknown Timeloop search algorithm '{self.algorithm}'")
        for name in ("threads", "victory_condition", "timeout", "max_permutations_per_if_visit"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"timeloop mapper setting {name} must be a positive integer, got {v!r}")
        if (not isinstance(self.search_dram_bandwidth, (int, float)) or isinstance(self.search_dram_bandwidth, bool)
                or not self.search_dram_bandwidth >= 0):
            raise ValueError("timeloop mapper setting search_dram_bandwidth must be a number >= 0 (bytes per cycle), "
                             f"got {self.search_dram_bandwidth!r}")
        if self.spatial not in ("fixed", "search"):
            raise ValueError(f"timeloop mapper setting spatial must be 'fixed' or 'search', got {self.spatial!r}")
        if not isinstance(self.search_size, int) or isinstance(self.search_size, bool) or self.search_size < 0:
            raise ValueError(f"timeloop mapper setting search_size must be an integer >= 0, got {self.search_size!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mapper_spec(settings: MapperSettings = MapperSettings(), objective: str = "latency") -> dict[str, Any]:
    """The ``mapper:`` section of ``mapper.yaml``."""
    if objective not in OBJECTIVE_METRICS:
        raise ValueError(f"unknown objective '{objective}' (choose from {', '.join(OBJECTIVE_METRICS)})")
    return {
        "mapper": {
            "optimization-metrics": list(OBJECTIVE_METRICS[objective]),
            "algorithm": settings.algorithm,
            "num-threads": settings.threads,
            "victory-condition": settings.victory_condition,
            "timeout": settings.timeout,
            "search-size": settings.search_size,
            "max-permutations-per-if-visit": settings.max_permutations_per_if_visit,
            # no inter-thread syncing: each thread's search is independent of timing
            "sync-interval": 0,
            "live-status": False,
            "log-suboptimal": False,
            "diagnostics": False,
        }
    }


# --------------------------------------------------------------------------- #
# Architecture


@dataclass(frozen=True)
class StorageLevel:
    """One Timeloop storage level derived from a class buffer."""

    name: str
    holds: tuple[str, ...]  # Timeloop data-space names kept here
    word_bits: int
    block_size: int  # words per access
    depth: int  # rows of width_bits
    width_bits: int
    storage_class: str
    ports: str
    read_energy_pj: float  # per access of width_bits (class figures)
    write_energy_pj: float

    @property
    def size_words(self) -> int:
        return self.depth * self.block_size


@dataclass(frozen=True)
class Translation:
    """The Timeloop view of an SA class: levels from outermost (DRAM) to innermost."""

    sa: SAClass
    dram: StorageLevel
    glb: StorageLevel
    pe_levels: tuple[StorageLevel, ...]  # outer -> inner
    dummy: bool  # a DummyBuffer level between the GLB and the PEs (row-stationary)
    mac_word_bits: int
    pe_mesh_x: int
    mac_mesh_x: int

    @property
    def storage_names(self) -> list[str]:
        """Storage level names, outermost first (as Timeloop's map.txt lists them)."""
        names = [self.dram.name, self.glb.name]
        if self.dummy:
            names.append("DummyBuffer")
        return names + [lvl.name for lvl in self.pe_levels]


def _word_bits(sa: SAClass, mem: Memory, on_pe: bool) -> int:
    """Bits per word of a level: the widest operand it holds; outputs are psums inside a PE."""
    bits = []
    for op in mem.holds:
        if op == "output":
            bits.append(sa.precision.psum if on_pe else sa.precision.output)
        else:
            bits.append(getattr(sa.precision, op))
    return max(bits)


def _storage(sa: SAClass, mem: Memory, on_pe: bool) -> StorageLevel:
    if mem.name in RESERVED_NAMES:
        raise ValueError(f"{sa.name}: buffer name '{mem.name}' is reserved in the Timeloop translation "
                         f"({', '.join(RESERVED_NAMES)}); rename the buffer")
    wb = _word_bits(sa, mem, on_pe)
    if mem.width_bits < wb:
        raise ValueError(f"{sa.name}: buffer '{mem.name}' is {mem.width_bits} bits wide, narrower than its "
                         f"{wb}-bit words")
    block = mem.width_bits // wb
    depth = (mem.size_bytes * 8) // mem.width_bits
    if depth < 1:
        raise ValueError(f"{sa.name}: buffer '{mem.name}' ({mem.size_bytes} B) holds less than one "
                         f"{mem.width_bits}-bit row")
    return StorageLevel(
        name=mem.name,
        holds=tuple(_OPERAND_DS[op] for op in sorted(mem.holds, key=_OPERAND_ORDER.__getitem__)),
        word_bits=wb,
        block_size=block,
        depth=depth,
        width_bits=mem.width_bits,
        storage_class="relmas_SRAM" if mem.size_bytes >= SRAM_MIN_BYTES else "relmas_regfile",
        ports=mem.ports,
        read_energy_pj=mem.read_energy_pj,
        write_energy_pj=mem.write_energy_pj,
    )


def translate(sa: SAClass) -> Translation:
    """Map an SA class onto Timeloop levels (validating what the translation needs)."""
    if sa.dataflow not in (Dataflow.ROW_STATIONARY, Dataflow.WEIGHT_STATIONARY):
        raise ValueError(
            f"{sa.name}: dataflow '{sa.dataflow.value}' has no Timeloop constraints in this toolkit "
            f"(supported: {Dataflow.ROW_STATIONARY.value}, {Dataflow.WEIGHT_STATIONARY.value})"
        )
    names = [sa.global_buffer.name] + [m.name for m in sa.pe_buffers]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"{sa.name}: buffer names {sorted(dup)} are used twice")
    glb = _storage(sa, sa.global_buffer, on_pe=False)
    pe = sorted(sa.pe_buffers, key=lambda m: min(_OPERAND_ORDER[o] for o in m.holds))
    pe_levels = tuple(_storage(sa, m, on_pe=True) for m in pe)
    if sa.dataflow == Dataflow.ROW_STATIONARY:
        if sa.macs_per_pe != 1:
            raise ValueError(f"{sa.name}: a row-stationary class has one MAC per PE (macs_per_pe={sa.macs_per_pe})")
        for m in sa.pe_buffers:
            if len(m.holds) != 1:
                raise ValueError(f"{sa.name}: row-stationary translation needs one PE scratchpad per operand; "
                                 f"'{m.name}' holds {m.holds}")
    dram_bits = max(sa.precision.input, sa.precision.weight, sa.precision.output)
    if sa.dram.width_bits < dram_bits:
        raise ValueError(f"{sa.name}: dram.width_bits {sa.dram.width_bits} is narrower than a {dram_bits}-bit word")
    dram_access_pj = sa.dram.energy_pj_per_bit * sa.dram.width_bits
    dram = StorageLevel(
        name="DRAM", holds=DATASPACES, word_bits=dram_bits, block_size=sa.dram.width_bits // dram_bits,
        depth=0, width_bits=sa.dram.width_bits, storage_class="DRAM", ports="dual",
        read_energy_pj=dram_access_pj, write_energy_pj=dram_access_pj,
    )
    vec_cols = sa.vector.cols if sa.vector is not None else 1
    return Translation(
        sa=sa, dram=dram, glb=glb, pe_levels=pe_levels,
        dummy=sa.dataflow == Dataflow.ROW_STATIONARY,
        mac_word_bits=max(sa.precision.input, sa.precision.weight),
        pe_mesh_x=sa.pe_array.cols,
        mac_mesh_x=sa.pe_array.cols * vec_cols,
    )


def _storage_attrs(lvl: StorageLevel, mesh_x: int | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "depth": lvl.depth,
        "width": lvl.width_bits,
        "block-size": lvl.block_size,
        "word-bits": lvl.word_bits,
    }
    # On-chip bandwidth: one access of width_bits per port per cycle.
    if lvl.ports == "dual":
        attrs["read_bandwidth"] = lvl.block_size
        attrs["write_bandwidth"] = lvl.block_size
    else:
        attrs["shared_bandwidth"] = lvl.block_size
    attrs["n_rdwr_ports"] = 2 if lvl.ports == "dual" else 1
    if mesh_x is not None:
        attrs["meshX"] = mesh_x
    return attrs


def arch_spec(sa: SAClass, dram_bytes_per_cycle: float = 0.0) -> dict[str, Any]:
    """``arch.yaml``: the Accelergy v0.3 architecture tree of an SA class.

    With ``dram_bytes_per_cycle`` 0 (the default) DRAM has no bandwidth limit, so
    Timeloop's cycles are the stall-free cycles of the spec (the shared DRAM
    bandwidth is applied by the simulator); otherwise DRAM reads and writes
    share that bandwidth (the search architecture, see :class:`MapperSettings`).
    """
    t = translate(sa)
    rows, cols = sa.pe_array.rows, sa.pe_array.cols
    pes = rows * cols
    dram_attrs: dict[str, Any] = {"type": DRAM_TYPE, "width": t.dram.width_bits, "block-size": t.dram.block_size,
                                  "word-bits": t.dram.word_bits}
    if dram_bytes_per_cycle > 0:
        dram_attrs["shared_bandwidth"] = round(dram_bytes_per_cycle * 8 / t.dram.word_bits, 6)
    dram = {"name": "DRAM", "class": "DRAM", "attributes": dram_attrs}
    glb = {"name": t.glb.name, "class": t.glb.storage_class, "attributes": _storage_attrs(t.glb, None)}
    sa_local: list[dict[str, Any]] = [glb]
    if t.dummy:
        # One per PE column: lets the mapper fan out over columns at the GLB and over rows below it
        # (the exercises' eyeriss_like trick); it keeps no data, so it costs no accesses.
        sa_local.append({
            "name": f"DummyBuffer[0..{cols - 1}]",
            "class": "relmas_regfile",
            "attributes": {"depth": 16, "width": t.glb.word_bits, "block-size": 1,
                           "word-bits": t.glb.word_bits, "n_rdwr_ports": 2, "meshX": cols},
        })
    pe_local: list[dict[str, Any]] = [
        {"name": lvl.name, "class": lvl.storage_class, "attributes": _storage_attrs(lvl, t.pe_mesh_x)}
        for lvl in t.pe_levels
    ]
    mac_name = "mac" if sa.macs_per_pe == 1 else f"mac[0..{sa.macs_per_pe - 1}]"
    pe_local.append({
        "name": mac_name,
        "class": "intmac",
        "attributes": {"datawidth": t.mac_word_bits, "meshX": t.mac_mesh_x},
    })
    return {
        "architecture": {
            "version": 0.3,
            "subtree": [{
                "name": "system",
                "attributes": {"technology": TECHNOLOGY},
                "local": [dram],
                "subtree": [{
                    "name": sa.name,
                    "attributes": {"technology": TECHNOLOGY},
                    "local": sa_local,
                    "subtree": [{"name": f"PE[0..{pes - 1}]", "local": pe_local}],
                }],
            }],
        }
    }


def components_spec() -> dict[str, dict[str, Any]]:
    """``components/*.yaml``: the Accelergy compound storage classes the architecture uses.

    Each is a primitive storage (``SRAM``, estimated by CACTI, or ``regfile``, by
    Aladdin) plus an address-generation counter, as the exercises' smartbuffers:
    a read, write (fill) or update is one storage access plus one count.
    """
    classes = []
    for cname, prim in (("relmas_SRAM", "SRAM"), ("relmas_regfile", "regfile")):
        storage_attrs: dict[str, Any] = {"technology": "technology", "width": "width", "depth": "depth"}
        if prim == "SRAM":
            storage_attrs.update({"n_rdwr_ports": "n_rdwr_ports", "n_banks": "n_banks"})
        else:
            storage_attrs.update({"n_ports": "n_rdwr_ports"})
        classes.append({
            "name": cname,
            "attributes": {"technology": TECHNOLOGY, "width": 64, "depth": 512, "n_rdwr_ports": 2, "n_banks": 1},
            "subcomponents": [
                {"name": "storage", "class": prim, "attributes": storage_attrs},
                {"name": "address_generator", "class": "counter",
                 "attributes": {"technology": "technology", "width": "log(depth)"}},
            ],
            "actions": [
                {"name": act, "subcomponents": [
                    {"name": "storage", "actions": [{"name": prim_act}]},
                    {"name": "address_generator", "actions": [{"name": "count"}]},
                ]}
                for act, prim_act in (("read", "read"), ("write", "write"), ("update", "write"))
            ] + [
                {"name": "idle", "subcomponents": [
                    {"name": "storage", "actions": [{"name": "idle"}]},
                    {"name": "address_generator", "actions": [{"name": "idle"}]},
                ]}
            ],
        })
    return {"relmas_storage.yaml": {"compound_components": {"version": 0.3, "classes": classes}}}


# --------------------------------------------------------------------------- #
# Constraints: the dataflow


def _spatial(target: str, x: list[str], y: list[str], full: tuple[str, ...] = ()) -> dict[str, Any]:
    """A spatial constraint: dims ``x`` on the X axis, ``y`` on the Y axis, the rest factor 1;
    dims in ``full`` are spread over their axis entirely (Timeloop: a factor of 0 = the whole dimension)."""
    others = [d for d in DIMS if d not in x and d not in y]
    return {
        "target": target,
        "type": "spatial",
        "factors": " ".join([f"{d}=1" for d in others] + [f"{d}=0" for d in full]),
        # Timeloop: dims before `split` in the permutation go to X, the others to Y.
        "permutation": "".join(x + y + others),
        "split": len(x),
    }


def _temporal(target: str, free: list[str]) -> dict[str, Any]:
    """A temporal constraint: only ``free`` dims may iterate at ``target`` (in that order, inner first)."""
    ones = [d for d in DIMS if d not in free]
    return {
        "target": target,
        "type": "temporal",
        "factors": " ".join(f"{d}=1" for d in ones),
        "permutation": "".join(ones + free),
    }


def constraints_spec(sa: SAClass) -> dict[str, Any]:
    """``constraints.yaml``: which level keeps what, and the spatial/temporal rules of the dataflow.

    Row-stationary (the exercises' eyeriss_like, in the schema's naming where R
    and P are the vertical filter and output rows): PE rows (Y) carry filter
    rows R, then input channels C, output channels M and groups G (the
    DummyBuffer fan-out); PE columns (X) carry output rows P, then M and G (the
    GLB fan-out). Each PE holds one filter row (S x C in its weight
    scratchpad), works on one input row and keeps psums of several output
    channels (only M iterates at the psum scratchpad).

    Weight-stationary (the exercises' simba_like): PE rows (Y) carry input
    channels C, PE columns (X) output channels M and groups G; inside a PE the
    MAC vector has C on its rows and M (or G) on its columns.
    """
    t = translate(sa)
    targets: list[dict[str, Any]] = []
    for lvl in [t.glb, *t.pe_levels]:
        targets.append({
            "target": lvl.name,
            "type": "bypass",
            "keep": list(lvl.holds),
            "bypass": [d for d in DATASPACES if d not in lvl.holds],
        })
    if sa.dataflow == Dataflow.ROW_STATIONARY:
        by_op = {lvl.holds[0]: lvl.name for lvl in t.pe_levels}
        targets.append({"target": "DummyBuffer", "type": "bypass", "keep": [], "bypass": list(DATASPACES)})
        targets.append(_spatial(t.glb.name, x=["P", "M", "G", "N"], y=[]))
        # Filter rows stay in the PEs while the PE array slides over the output plane: the output
        # columns (Q) and rows (P) iterate innermost at the GLB, inside the loops that change weights
        # (weights bypass the GLB, so any weight-changing loop inside them refetches from DRAM).
        targets.append({"target": t.glb.name, "type": "temporal", "permutation": "QP"})
        targets.append(_spatial("DummyBuffer", x=[], y=["R", "C", "M", "G"], full=("R",)))
        # It stores nothing, so temporal loops there would only duplicate the GLB's.
        targets.append(_temporal("DummyBuffer", []))
        if "Outputs" in by_op:
            targets.append(_temporal(by_op["Outputs"], ["M"]))
        if "Weights" in by_op:
            targets.append(_temporal(by_op["Weights"], ["C", "S"]))
        if "Inputs" in by_op:
            targets.append(_temporal(by_op["Inputs"], []))
    else:  # weight-stationary
        targets.append(_spatial(t.glb.name, x=["M", "G"], y=["C"]))
        if sa.macs_per_pe > 1:
            targets.append(_spatial(t.pe_levels[-1].name, x=["M", "G"], y=["C"]))
        if "Outputs" in t.pe_levels[-1].holds:
            # The innermost (accumulation) buffer iterates over output pixels and output channels only:
            # a weight, once read, serves a run of output pixels, and the reduction loops (C, R, S) sit
            # above it so that partial sums stay in the accumulation buffer while they accumulate.
            targets.append(_temporal(t.pe_levels[-1].name, ["N", "P", "Q", "M"]))
        # Weights stay in the PE weight buffers while the array streams over the output plane: at the
        # levels above the weight buffer, output columns and rows iterate innermost (weights bypass
        # the GLB, so a weight-changing loop inside them would refetch weights from DRAM).
        wlevel = next((i for i, lvl in enumerate(t.pe_levels) if "Weights" in lvl.holds), None)
        if wlevel is not None:
            for lvl in [t.glb, *t.pe_levels[:wlevel]]:
                targets.append({"target": lvl.name, "type": "temporal", "permutation": "QP"})
    return {"architecture_constraints": {"targets": targets}}


# --------------------------------------------------------------------------- #
# Problems


def problem_spec(layer: Layer) -> dict[str, Any]:
    """A Timeloop problem file for one layer (grouped-convolution shape, see module docstring)."""
    g = layer.groups
    instance = {
        "G": g, "C": layer.C // g, "M": layer.K // g, "R": layer.R, "S": layer.S,
        "N": layer.N, "P": layer.P, "Q": layer.Q,
        "Hstride": layer.stride[0], "Wstride": layer.stride[1], "Hdilation": 1, "Wdilation": 1,
    }
    return {
        "problem": {
            "shape": {
                "name": SHAPE_NAME,
                "dimensions": list(DIMS),
                "coefficients": [{"name": c, "default": 1} for c in ("Hstride", "Wstride", "Hdilation", "Wdilation")],
                "data-spaces": [
                    {"name": "Weights", "projection": [[["G"]], [["C"]], [["M"]], [["R"]], [["S"]]]},
                    {"name": "Inputs", "projection": [
                        [["N"]], [["G"]], [["C"]],
                        [["R", "Hdilation"], ["P", "Hstride"]],
                        [["S", "Wdilation"], ["Q", "Wstride"]],
                    ]},
                    {"name": "Outputs", "projection": [[["N"]], [["G"]], [["M"]], [["P"]], [["Q"]]],
                     "read-write": True},
                ],
            },
            "instance": instance,
        }
    }


def problem_comment(layer: Layer, model: str | None = None) -> str:
    where = f"{model}/{layer.name}" if model else layer.name
    pad = f"padding {list(layer.padding)} not modelled (Timeloop v3 has none: the padded input is moved)"
    return (f"# Timeloop problem for layer {where} ({layer.op}): N={layer.N} C={layer.C} K={layer.K} "
            f"R={layer.R} S={layer.S} P={layer.P} Q={layer.Q} stride={list(layer.stride)} groups={layer.groups}\n"
            f"# C and M below are per group (G groups); {pad}.\n"
            f"# Written by relmas (characterize/timeloop_spec.py).\n")


# --------------------------------------------------------------------------- #
# Energy reference table from the class figures (energy="class")


def class_ert(sa: SAClass) -> dict[str, Any]:
    """An Accelergy v0.3-format ERT built from the class file's own energy figures.

    Given to timeloop-mapper in place of Accelergy's estimate (``energy="class"``),
    it makes Timeloop charge exactly the per-access energies of ``arch/<name>.yaml``
    (reads and writes of ``width_bits``, the MAC, DRAM at ``energy_pj_per_bit``),
    the figures the zigzag backend uses. Idle actions cost nothing.
    """
    t = translate(sa)
    rows, cols = sa.pe_array.rows, sa.pe_array.cols
    pes = rows * cols

    def storage_actions(lvl: StorageLevel) -> list[dict[str, Any]]:
        return [
            {"name": "read", "arguments": None, "energy": lvl.read_energy_pj},
            {"name": "write", "arguments": None, "energy": lvl.write_energy_pj},
            {"name": "update", "arguments": None, "energy": lvl.write_energy_pj},
            {"name": "idle", "arguments": None, "energy": 0.0},
        ]

    base = f"system.{sa.name}"
    tables = [
        {"name": "system.DRAM", "actions": storage_actions(t.dram)},
        {"name": f"{base}.{t.glb.name}", "actions": storage_actions(t.glb)},
    ]
    if t.dummy:
        zero = StorageLevel("DummyBuffer", (), 8, 1, 1, 8, "relmas_regfile", "dual", 0.0, 0.0)
        tables.append({"name": f"{base}.DummyBuffer[0..{cols - 1}]", "actions": storage_actions(zero)})
    for lvl in t.pe_levels:
        tables.append({"name": f"{base}.PE[0..{pes - 1}].{lvl.name}", "actions": storage_actions(lvl)})
    mac = "mac" if sa.macs_per_pe == 1 else f"mac[0..{sa.macs_per_pe - 1}]"
    tables.append({"name": f"{base}.PE[0..{pes - 1}].{mac}", "actions": [
        {"name": "mac_random", "arguments": None, "energy": sa.mac_energy_pj},
        {"name": "mac_reused", "arguments": None, "energy": sa.mac_energy_pj},
        {"name": "mac_gated", "arguments": None, "energy": 0.0},
        {"name": "idle", "arguments": None, "energy": 0.0},
    ]})
    return {"ERT": {"version": 0.3, "tables": tables}}


# --------------------------------------------------------------------------- #
# Writers


#: Sub-folder of an arch folder holding the architecture without a DRAM limit (for timeloop-model).
STALL_FREE_DIR = "stall_free"


def _header(sa: SAClass, what: str) -> str:
    return (f"# Timeloop v3 / Accelergy v0.3 {what} for SA class '{sa.name}' ({sa.dataflow.value}).\n"
            f"# Written by relmas (characterize/timeloop_spec.py) from arch/{sa.name}.yaml; do not edit.\n")


def _dump(obj: Any) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False, width=120)


def write_arch_dir(sa: SAClass, out: str | Path, settings: MapperSettings = MapperSettings(),
                   objective: str = "latency", energy: str = "accelergy") -> list[Path]:
    """Write ``arch.yaml``, ``components/*.yaml``, ``constraints.yaml``, ``mapper.yaml``
    (and ``ERT.yaml`` with ``energy="class"``) into ``out``, atomically. Returns the input
    files in the order to give them to timeloop-mapper (problem file excluded)."""
    out = Path(out)
    files = [out / "arch.yaml"]
    bw = settings.search_dram_bandwidth
    if bw > 0:
        note = (f"# DRAM bandwidth {bw:g} B/cycle for the mapper's search; {STALL_FREE_DIR}/arch.yaml is the same\n"
                f"# architecture without a DRAM limit, for timeloop-model's stall-free cycles.\n")
        write_text(out / STALL_FREE_DIR / "arch.yaml",
                   _header(sa, "architecture (no DRAM bandwidth limit: stall-free cycles)") + _dump(arch_spec(sa)))
    else:
        note = "# DRAM has no bandwidth limit: Timeloop's cycles are stall-free.\n"
    write_text(files[0], _header(sa, "architecture") + note + _dump(arch_spec(sa, bw)))
    for name, spec in components_spec().items():
        p = out / "components" / name
        write_text(p, _header(sa, "compound components") + _dump(spec))
        files.append(p)
    p = out / "constraints.yaml"
    write_text(p, _header(sa, "dataflow constraints") + _dump(constraints_spec(sa)))
    files.append(p)
    p = out / "mapper.yaml"
    write_text(p, _header(sa, f"mapper settings (objective: {objective})") + _dump(mapper_spec(settings, objective)))
    files.append(p)
    if energy == "class":
        p = out / "ERT.yaml"
        write_text(p, _header(sa, "energy reference table (class figures)") + _dump(class_ert(sa)))
        files.append(p)
    elif energy != "accelergy":
        raise ValueError(f"unknown energy model '{energy}' (choose accelergy or class)")
    return files


def write_problem(layer: Layer, path: str | Path, model: str | None = None) -> Path:
    """Write one layer's problem file atomically."""
    path = Path(path)
    write_text(path, problem_comment(layer, model) + _dump(problem_spec(layer)))
    return path


# --------------------------------------------------------------------------- #
# Spatial mapping of a layer (the per-layer mapspace constraints)


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, int(n ** 0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


@dataclass(frozen=True)
class SpatialAxis:
    """One spatial fan-out the dataflow constraints allow.

    ``level`` is the storage level whose fan-out it is, ``axis`` X or Y,
    ``dims`` the dimensions it may carry in order of preference, ``size`` the
    fan-out, ``whole`` the dimensions that must be spread over it entirely.
    """

    level: str
    axis: str
    dims: tuple[str, ...]
    size: int
    whole: tuple[str, ...] = ()


def spatial_axes_rules(sa: SAClass) -> list[SpatialAxis]:
    """The spatial fan-outs of ``sa``'s dataflow, in order of preference for filling."""
    t = translate(sa)
    rows, cols = sa.pe_array.rows, sa.pe_array.cols
    if sa.dataflow == Dataflow.ROW_STATIONARY:
        # Rows: the filter rows R (whole), then input channels, output channels, groups;
        # columns: output rows P, then output channels, groups, batch.
        return [SpatialAxis("DummyBuffer", "Y", ("R", "C", "M", "G"), rows, ("R",)),
                SpatialAxis(t.glb.name, "X", ("P", "M", "G", "N"), cols)]
    axes: list[SpatialAxis] = []
    if sa.macs_per_pe > 1:
        vr, vc = (sa.vector.rows, sa.vector.cols) if sa.vector is not None else (1, sa.macs_per_pe)
        inner = t.pe_levels[-1].name
        axes += [SpatialAxis(inner, "Y", ("C",), vr), SpatialAxis(inner, "X", ("M", "G"), vc)]
    axes += [SpatialAxis(t.glb.name, "Y", ("C",), rows), SpatialAxis(t.glb.name, "X", ("M", "G"), cols)]
    return axes


def layer_dims(layer: Layer) -> dict[str, int]:
    """The problem instance's dimension sizes (C and M per group)."""
    g = layer.groups
    return {"G": g, "C": layer.C // g, "M": layer.K // g, "R": layer.R, "S": layer.S,
            "N": layer.N, "P": layer.P, "Q": layer.Q}


def _axis_options(sizes: dict[str, int], ax: SpatialAxis) -> list[tuple[int, ...]]:
    """Every tuple of divisor factors (one per ``ax.dims``) whose product fits the axis."""
    out: list[tuple[int, ...]] = [()]
    for d in ax.dims:
        nxt = []
        for partial in out:
            used = 1
            for v in partial:
                used *= v
            for f in ([sizes[d]] if d in ax.whole else _divisors(sizes[d])):
                if used * f > ax.size:
                    break
                nxt.append(partial + (f,))
        out = nxt
    return out


def choose_spatial(sa: SAClass, layer: Layer) -> tuple[float, list[dict[str, int]]]:
    """The layer's spatial mapping on ``sa``: ``(utilisation, factors per axis of spatial_axes_rules)``.

    Exact search over divisor factors (Timeloop v3 factorises each dimension
    exactly, so each dimension's spatial factors together must divide it):
    the highest spatial utilisation wins; among equals, larger factors on the
    earlier axes and, within an axis, on the earlier dimensions of its
    preference list. Raises ValueError if no mapping exists (a dimension that
    must be spread whole is larger than its axis).
    """
    sizes = layer_dims(layer)
    axes = spatial_axes_rules(sa)
    options = [_axis_options(sizes, ax) for ax in axes]
    for ax, opts in zip(axes, options):
        if not opts:
            big = [d for d in ax.whole if sizes[d] > ax.size]
            raise ValueError(f"{sa.name}: layer {layer.name} has {'/'.join(big)} = "
                             f"{', '.join(str(sizes[d]) for d in big)}, more than the {ax.size} PEs of the "
                             f"{ax.axis} axis it must be spread over in the {sa.dataflow.value} dataflow")
    total = 1
    for ax in axes:
        total *= ax.size
    best_key: tuple | None = None
    best: list[tuple[int, ...]] = []

    def rec(i: int, left: dict[str, int], prod: int, chosen: list[tuple[int, ...]]) -> None:
        nonlocal best_key, best
        if i == len(axes):
            key = (prod, tuple(f for fs in chosen for f in fs))
            if best_key is None or key > best_key:
                best_key, best = key, list(chosen)
            return
        bound = prod
        for ax in axes[i:]:
            bound *= ax.size
        if best_key is not None and bound < best_key[0]:
            return
        for opt in options[i]:
            if any(left[d] % f for d, f in zip(axes[i].dims, opt)):
                continue
            nleft = dict(left)
            p = 1
            for d, f in zip(axes[i].dims, opt):
                nleft[d] //= f
                p *= f
            rec(i + 1, nleft, prod * p, chosen + [opt])

    rec(0, dict(sizes), 1, [])
    assert best_key is not None
    return best_key[0] / total, [dict(zip(ax.dims, fs)) for ax, fs in zip(axes, best)]


def max_spatial_utilization(sa: SAClass, layer: Layer) -> float:
    """Highest fraction of the MACs any mapping allowed by the dataflow constraints keeps busy."""
    return choose_spatial(sa, layer)[0]


def spatial_constraints_spec(sa: SAClass, layer: Layer) -> dict[str, Any]:
    """``mapspace_constraints`` fixing the layer's spatial factors (see :func:`choose_spatial`).

    Only the dimensions the class's ``constraints.yaml`` leaves free are given
    (Timeloop refuses a factor specified twice); a dimension spread whole
    there (factor 0) is left alone.
    """
    util, chosen = choose_spatial(sa, layer)
    per_level: dict[str, dict[str, int]] = {}
    for ax, factors in zip(spatial_axes_rules(sa), chosen):
        lvl = per_level.setdefault(ax.level, {})
        for d, f in factors.items():
            if d not in ax.whole:
                lvl[d] = lvl.get(d, 1) * f
    targets = [{"target": lvl, "type": "spatial", "factors": " ".join(f"{d}={f}" for d, f in fs.items())}
               for lvl, fs in per_level.items()]
    return {"mapspace_constraints": {"targets": targets}}


def write_spatial_constraints(sa: SAClass, layer: Layer, path: str | Path, model: str | None = None) -> Path:
    """Write the per-(class, layer) spatial factors (``mapspace_constraints``) atomically."""
    path = Path(path)
    util, chosen = choose_spatial(sa, layer)
    where = f"{model}/{layer.name}" if model else layer.name
    axes = ", ".join(f"{ax.level}-{ax.axis}: " + " ".join(f"{d}{f}" for d, f in fs.items() if f > 1)
                     for ax, fs in zip(spatial_axes_rules(sa), chosen))
    write_text(path, f"# Spatial mapping of layer {where} on SA class '{sa.name}' ({sa.dataflow.value}),\n"
                     f"# chosen by relmas (characterize/timeloop_spec.py, choose_spatial): spatial utilisation "
                     f"{util:.4f}\n# ({axes}). Timeloop searches the temporal mapping around it.\n"
                     + _dump(spatial_constraints_spec(sa, layer)))
    return path


__all__ = [
    "MapperSettings", "Translation", "StorageLevel", "SpatialAxis", "translate", "arch_spec", "components_spec",
    "constraints_spec", "mapper_spec", "problem_spec", "class_ert", "choose_spatial", "max_spatial_utilization",
    "spatial_axes_rules", "spatial_constraints_spec", "layer_dims", "write_arch_dir", "write_problem",
    "write_spatial_constraints", "OBJECTIVE_METRICS", "TECHNOLOGY", "DRAM_TYPE", "SHAPE_NAME", "DIMS",
    "STALL_FREE_DIR",
]
