"""ZigZag (KU Leuven, ``zigzag-dse`` on PyPI) as the default characterisation backend.

Each call of :meth:`ZigZagBackend.evaluate` translates one SA class
(``arch/<name>.yaml``) into ZigZag's hardware description and one layer into a
one-layer ZigZag workload, fixes the spatial mapping that the class's dataflow
prescribes (row-stationary or weight-stationary), lets ZigZag's LOMA engine
search the temporal mapping exhaustively over loop orderings, and returns the
best mapping under the configured objective as a :class:`LayerCost`.

Everything is built in memory with ZigZag's own validators and factories
(``AcceleratorValidator``/``AcceleratorFactory``, ``WorkloadValidator``/
``MappingValidator``/``WorkloadFactory``) and run through ZigZag's stage
pipeline (``MainStage`` -> ``WorkloadStage`` -> spatial mapping -> LOMA ->
cost model), the same stages as ``zigzag.api.get_hardware_performance_zigzag``
minus the stages that save results to disk. Each call still gets its own
temporary dump folder (passed to ZigZag, removed afterwards) so that nothing
ever lands in the working directory.

Two modelling choices are made here, and documented in docs/characterization.md:

* DRAM is given an effectively unlimited bandwidth inside ZigZag, so that
  ZigZag's latency is the stall-free latency of the spec (compute cycles plus
  on-chip stalls and on-chip fill/drain, no DRAM-bandwidth stalls). The shared
  DRAM bandwidth is a property of the system and is applied by the contention
  simulator, not here.
* Because ZigZag rounds memory-access counts to whole accesses of the maximum
  port width, an unlimited DRAM port would make its DRAM access counts
  meaningless; DRAM traffic and energy are therefore computed here from
  ZigZag's own per-level data-movement record (elements x precision per
  transfer period), rounded up to whole ``dram.width_bits`` accesses per period,
  exactly as ZigZag would count them with a ``width_bits``-wide DRAM port.

The search is deterministic: the spatial mapping is computed here (no ZigZag
spatial-mapping generation), LOMA enumerates loop orderings in a fixed order,
ties keep the first mapping found, and ZigZag hashes its names with SHA-512
(independent of ``PYTHONHASHSEED``). Its cost is bounded per layer: the dataflow's
stationary loop is fixed innermost (a LOMA ordering constraint) and the number of
loop prime factors (``lpf_limit``) is lowered until at most ``max_orderings``
orderings remain. All search settings are backend settings, hence part of the
characterisation cache key.
"""
from __future__ import annotations

import logging
import math
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from ..errors import BackendUnavailable
from ..schema import Dataflow, Layer, Memory, SAClass
from .base import Backend, LayerCost

#: Bumped whenever the translation (hardware, workload or spatial-mapping rules)
#: changes, so that cached results computed by an older translation are not reused.
TRANSLATION_VERSION = 1

#: DRAM port width given to ZigZag, in bits per cycle: large enough that DRAM
#: transfers never stall the array (ZigZag charges ceil(bits / width) cycles per
#: transfer period, i.e. one cycle), small enough to stay an exact integer.
UNLIMITED_DRAM_BITS_PER_CYCLE = 1 << 30

#: Default search settings; every one of them goes into :meth:`Backend.settings`
#: and hence into the cache key of the characterisation table.
DEFAULT_SETTINGS: dict[str, Any] = {
    # LOMA (loop-order based memory allocation): exhaustive over the orderings of
    # the temporal loop prime factors, hence deterministic. SALSA (simulated
    # annealing) is not offered: it draws unseeded random numbers.
    "engine": "loma",
    # Temporal loops are split into at most this many prime factors before LOMA
    # permutes them (ZigZag's default is 6) ...
    "lpf_limit": 8,
    # ... lowered per layer until LOMA has at most this many loop orderings to
    # evaluate (about 5 ms each). See docs/characterization.md for the speed /
    # quality measurements behind both defaults.
    "max_orderings": 720,
    # "uneven": operands may switch memory level at different loop boundaries
    # (ZigZag's default and its more general mapping space).
    "temporal_mapping_type": "uneven",
    # ZigZag's api.py default: re-reading the same word from an innermost buffer
    # whose port holds it (a stationary operand) costs one access, not one per MAC.
    "access_same_data_considered_as_no_access": True,
    # Keep the dataflow's stationary loop innermost in time (see stationary_loop):
    # enforces RS / WS inside the PE as well as across it, and divides the number
    # of LOMA orderings by the number of loop prime factors.
    "stationary_innermost": True,
}

#: Default mapping objective of this backend (see docs/characterization.md,
#: "Objective"): EDP keeps the stall-free cycles within a few percent of the
#: latency optimum while cutting DRAM traffic by 1.5x on average and up to 7x.
DEFAULT_OBJECTIVE = "edp"

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- #
# Spatial mappings


@dataclass(frozen=True)
class ArrayDim:
    """One operational-array dimension as ZigZag sees it: name (D1..D4), size, meaning."""

    name: str
    size: int
    role: str


def _layer_dim_sizes(layer: Layer) -> dict[str, int]:
    """ZigZag loop-dimension sizes of a layer (per-group C and K; G groups)."""
    g = layer.groups
    return {
        "B": layer.N,
        "K": layer.K // g,
        "G": g,
        "OX": layer.Q,
        "OY": layer.P,
        "C": layer.C // g,
        "FX": layer.S,
        "FY": layer.R,
    }


def _best_unroll(size: int, cap: int) -> int:
    """Unrolling of a loop of ``size`` over at most ``cap`` units.

    Picks the factor that leaves the fewest temporal iterations
    (``ceil(size / u)``) and, among those, the smallest factor, so that the
    remaining units of the array dimension stay free for replication. The factor
    need not divide ``size``: ZigZag then runs one partly idle iteration.
    """
    cap = max(1, min(size, cap))
    best_u, best_t = 1, size
    for u in range(2, cap + 1):
        t = -(-size // u)
        if t < best_t:
            best_u, best_t = u, t
    return best_u


class _Filler:
    """Fills array dimensions with layer loops, never unrolling a loop beyond its size in total.

    ``unrolled[d]`` is the product of the spatial factors given to loop ``d`` so
    far (over all array dimensions); ZigZag rejects a mapping whose total
    unrolling of a loop exceeds the loop.
    """

    def __init__(self, sizes: dict[str, int]):
        self.sizes = dict(sizes)
        self.unrolled = {d: 1 for d in sizes}

    def _left(self, d: str) -> tuple[int, int]:
        """(temporal iterations still to cover, largest factor still allowed) of loop ``d``."""
        return -(-self.sizes[d] // self.unrolled[d]), self.sizes[d] // self.unrolled[d]

    def fill(self, capacity: int, primary: str | None, replicas: list[str]) -> dict[str, int]:
        """Unroll ``primary`` first, then replicate over ``replicas`` in the units left.

        The primary loop (the dataflow's own: FY on RS rows, OY on RS columns, C
        or K on WS) takes :func:`_best_unroll`. The replica loops share the
        remaining ``capacity // u_primary`` units jointly: the combination with
        the fewest temporal iterations (product of ``ceil(left / u)``) wins, ties
        going to larger factors on earlier loops of ``replicas``.
        """
        out: dict[str, int] = {}
        left = capacity
        if primary is not None:
            remaining, allowed = self._left(primary)
            u = _best_unroll(remaining, min(left, allowed))
            if u > 1:
                out[primary] = u
                self.unrolled[primary] *= u
                left //= u
        best: tuple[tuple, list[int]] | None = None
        cands = [self._left(d) for d in replicas]

        def search(i: int, room: int, chosen: list[int]) -> None:
            nonlocal best
            if i == len(replicas):
                iters = math.prod(-(-r // u) for (r, _), u in zip(cands, chosen))
                key = (iters, tuple(-u for u in chosen))
                if best is None or key < best[0]:
                    best = (key, list(chosen))
                return
            remaining, allowed = cands[i]
            for u in range(1, max(1, min(room, allowed, remaining)) + 1):
                search(i + 1, room // u, chosen + [u])

        search(0, left, [])
        assert best is not None
        for d, u in zip(replicas, best[1]):
            if u > 1:
                out[d] = u
                self.unrolled[d] *= u
        return out


def spatial_mapping_for(sa: SAClass, layer: Layer) -> tuple[list[ArrayDim], dict[str, dict[str, int]]]:
    """The operational-array dimensions of ``sa`` and the spatial mapping of ``layer`` on them.

    Row-stationary (Eyeriss): D1 = PE rows, D2 = PE columns. Rows carry filter
    rows (FY = R), columns output rows (OY = P), as in an Eyeriss PE set; the
    rows left over when R is small are replicated over input channels C (the
    vertical psum accumulation of RS extends to channels), then groups G; the
    columns left over when P is small over output channels K, then groups G,
    then the batch. A fully-connected layer (R = P = 1) thus becomes C on rows x
    K on columns, Eyeriss's own FC treatment of a 1x1 PE set replicated.

    Weight-stationary (Simba): D1 x D2 = the MAC vector inside a PE (input
    channels C x output channels K, e.g. 4 x 4), D3 x D4 = the PE array (C on
    rows, K on columns). Grouped and depthwise layers, whose per-group K (and C)
    cannot fill the vector, put the groups G on the output-channel axes (D2,
    D4): each lane/PE column then serves its own channel, which the per-PE input
    buffer can feed. The input-channel axes are never given anything but C, so a
    depthwise layer uses one row of the vector and one row of PEs, as on Simba.

    Returns the array dimensions and ``{D: {loop: factor}}`` (factors > 1 only;
    an array dimension left idle maps a factor-1 loop so that ZigZag sees a
    complete, user-fixed mapping and generates none of its own).
    """
    sizes = _layer_dim_sizes(layer)
    filler = _Filler(sizes)
    rows, cols = sa.pe_array.rows, sa.pe_array.cols
    if sa.dataflow == Dataflow.ROW_STATIONARY:
        if sa.vector is not None and sa.macs_per_pe > 1:
            raise ValueError(f"{sa.name}: a row-stationary class has one MAC per PE (macs_per_pe={sa.macs_per_pe})")
        dims = [ArrayDim("D1", rows, "PE rows"), ArrayDim("D2", cols, "PE columns")]
        mapping = {
            "D1": filler.fill(rows, "FY", ["C", "G"]),
            "D2": filler.fill(cols, "OY", ["K", "G", "B"]),
        }
    elif sa.dataflow == Dataflow.WEIGHT_STATIONARY:
        if sa.vector is not None:
            vr, vc = sa.vector.rows, sa.vector.cols
            dims = [
                ArrayDim("D1", vr, "MAC vector rows (in PE)"),
                ArrayDim("D2", vc, "MAC vector columns (in PE)"),
                ArrayDim("D3", rows, "PE rows"),
                ArrayDim("D4", cols, "PE columns"),
            ]
            mapping = {
                "D1": filler.fill(vr, "C", []),
                "D2": filler.fill(vc, None, ["K", "G"]),
                "D3": filler.fill(rows, "C", []),
                "D4": filler.fill(cols, None, ["K", "G"]),
            }
        else:  # one MAC per PE: the PE array alone
            dims = [ArrayDim("D1", rows, "PE rows"), ArrayDim("D2", cols, "PE columns")]
            mapping = {"D1": filler.fill(rows, "C", []), "D2": filler.fill(cols, None, ["K", "G"])}
    else:
        raise ValueError(
            f"{sa.name}: dataflow '{sa.dataflow.value}' has no spatial mapping in the zigzag backend "
            f"(supported: {Dataflow.ROW_STATIONARY.value}, {Dataflow.WEIGHT_STATIONARY.value})"
        )
    return dims, mapping


# --------------------------------------------------------------------------- #
# Hardware, workload and mapping in ZigZag's input format

_MEM_OP = {"input": "I1", "weight": "I2", "output": "O"}
_LAYER_NAME = "layer"


def _ports(operands: list[str], width: int, dual: bool, max_width: int | None = None) -> list[dict[str, Any]]:
    """ZigZag port list: reads serve lower levels (tl) and, for outputs, higher ones (th)."""
    reads, writes = [], []
    for op in operands:
        reads.append(f"{op}, tl")
        writes.append(f"{op}, fh")
        if op == "O":
            reads.append("O, th")
            writes.append("O, fl")
    bw_max = width if max_width is None else max_width
    if dual:
        return [
            {"name": "r_port_1", "type": "read", "bandwidth_min": width, "bandwidth_max": bw_max, "allocation": reads},
            {"name": "w_port_1", "type": "write", "bandwidth_min": width, "bandwidth_max": bw_max,
             "allocation": writes},
        ]
    return [{"name": "rw_port_1", "type": "read_write", "bandwidth_min": width, "bandwidth_max": bw_max,
             "allocation": reads + writes}]


def _memory(mem: Memory, served: list[str]) -> dict[str, Any]:
    """One arch-file buffer as a ZigZag memory (size in bits; energy per width_bits access)."""
    operands = [_MEM_OP[o] for o in ("input", "weight", "output") if o in mem.holds]
    return {
        "size": mem.size_bytes * 8,
        "r_cost": float(mem.read_energy_pj),
        "w_cost": float(mem.write_energy_pj),
        "area": 0.0,
        "latency": 1,
        "operands": operands,
        "ports": _ports(operands, mem.width_bits, mem.ports == "dual"),
        "served_dimensions": served,
    }


def hardware_dict(sa: SAClass, dims: list[ArrayDim]) -> dict[str, Any]:
    """ZigZag accelerator description of an SA class (memories listed innermost first).

    Per-PE buffers serve no array dimension on a 1-MAC PE (one copy per PE) and
    the two vector dimensions on a vector PE (one copy per PE, broadcast to its
    MACs). The global buffer and DRAM serve every dimension. DRAM energy is set
    to zero here and added from the DRAM traffic by :func:`_dram_traffic`.
    """
    all_dims = [d.name for d in dims]
    pe_served = all_dims[:2] if len(dims) == 4 else []
    memories: dict[str, Any] = {}
    for mem in sa.pe_buffers:
        memories[mem.name] = _memory(mem, pe_served)
    memories[sa.global_buffer.name] = _memory(sa.global_buffer, all_dims)
    if "dram" in memories:
        raise ValueError(f"{sa.name}: a buffer may not be called 'dram'")
    memories["dram"] = {
        "size": 1 << 40,
        "r_cost": 0.0,
        "w_cost": 0.0,
        "area": 0.0,
        "latency": 1,
        "operands": ["I1", "I2", "O"],
        "ports": _ports(["I1", "I2", "O"], sa.dram.width_bits, False, UNLIMITED_DRAM_BITS_PER_CYCLE),
        "served_dimensions": all_dims,
    }
    return {
        "name": sa.name,
        "memories": memories,
        "operational_array": {
            "unit_energy": float(sa.mac_energy_pj),
            "unit_area": 0.0,
            "dimensions": all_dims,
            "sizes": [d.size for d in dims],
        },
    }


def workload_list(sa: SAClass, layer: Layer) -> list[dict[str, Any]]:
    """One-layer ZigZag workload (conv form covers conv, dwconv, gconv, fc and matmul)."""
    sizes = _layer_dim_sizes(layer)
    ih, iw = layer.input_hw
    prec = sa.precision
    return [
        {
            "id": 0,
            "name": _LAYER_NAME,
            "operator_type": "Conv",
            "equation": "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]",
            "dimension_relations": [
                f"ix={layer.stride[1]}*ox+1*fx",
                f"iy={layer.stride[0]}*oy+1*fy",
            ],
            "loop_dims": list(sizes),
            "loop_sizes": list(sizes.values()),
            "operand_precision": {"W": prec.weight, "I": prec.input, "O": prec.psum, "O_final": prec.output},
            "operand_source": {"W": 0, "I": 0},
            "pr_loop_dims": ["IX", "IY"],
            "pr_loop_sizes": [iw, ih],
            "padding": [[layer.padding[1], layer.padding[1]], [layer.padding[0], layer.padding[0]]],
        }
    ]


def stationary_loop(sa: SAClass, layer: Layer) -> str | None:
    """The temporal loop the dataflow keeps innermost inside a PE, or None when there is none.

    Row-stationary: the PE's 1-D convolution primitive slides a filter row over
    an input row, accumulating one partial sum over the filter row, so the
    filter-column loop FX is innermost. With S = 1 there is no filter row to
    slide and no constraint: putting the output-row loop OX innermost instead
    would need one partial sum per output pixel in the PE (the Eyeriss classes
    hold five) and spill every partial sum to the global buffer (measured: 30x
    slower on a 1x1 conv). Weight-stationary: a weight stays in the PE while the
    output pixels stream past it, so OX (then OY, then the batch) is innermost;
    a batch-1 FC layer on a WS class has no such loop, which is the truth (each
    weight is used once).
    """
    sizes = _layer_dim_sizes(layer)
    if sa.dataflow == Dataflow.ROW_STATIONARY:
        order = ["FX"]
    elif sa.dataflow == Dataflow.WEIGHT_STATIONARY:
        order = ["OX", "OY", "B"]
    else:
        return None
    for d in order:
        if sizes[d] > 1:
            return d
    return None


def mapping_list(mapping: dict[str, dict[str, int]], innermost: str | None = None) -> list[dict[str, Any]]:
    """ZigZag mapping input: the spatial unrolling, fixed, and optionally the innermost temporal loop.

    ``innermost`` becomes a LOMA constraint (``temporal_ordering: [[loop, "*"]]``):
    only loop orderings whose innermost loop prime factor belongs to that loop
    are generated; everything above it is still searched.
    """
    spatial: dict[str, list[str]] = {}
    for oa_dim, loops in mapping.items():
        spatial[oa_dim] = [f"{d}, {u}" for d, u in loops.items()] or ["K, 1"]
    links = {"O": "O", "W": "I2", "I": "I1"}
    entry: dict[str, Any] = {"spatial_mapping": spatial, "memory_operand_links": links}
    if innermost is not None:
        entry["temporal_ordering"] = [[innermost, "*"]]
    # ZigZag picks a mapping by layer name first; "default" must exist as well.
    return [{"name": name, **entry} for name in ("default", _LAYER_NAME)]


# --------------------------------------------------------------------------- #
# Reading a ZigZag cost-model evaluation


def _dram_traffic(cme: Any, dram_width: int) -> dict[str, float]:
    """DRAM bits read and written by the mapping of ``cme``, per operand and in total.

    Uses ZigZag's data-movement record of the top (DRAM) level of each operand:
    reads are ``rd_out_to_low`` (inputs, weights, and partial sums read back),
    writes ``wr_in_by_low`` (outputs and partial sums). Each transfer period moves
    ``amount x precision`` bits, rounded up to whole ``dram_width`` accesses, times
    the number of periods: ZigZag's own access count for a ``dram_width`` port.
    """
    from zigzag.hardware.architecture.memory_port import DataDirection
    from zigzag.mapping.data_movement import DataMoveAttr

    out = {"read_bits": 0.0, "write_bits": 0.0}
    for layer_op, levels in cme.mapping.unit_mem_data_movement.items():
        top = len(levels) - 1
        umdm = levels[top]
        units = cme.mapping.spatial_mapping.unit_count[layer_op][top + 1]
        amount = umdm.get_attribute(DataMoveAttr.DATA_TRANS_AMOUNT_PER_PERIOD)
        precision = umdm.get_attribute(DataMoveAttr.DATA_PRECISION)
        periods = umdm.get_attribute(DataMoveAttr.DATA_TRANS_PERIOD_COUNT)
        for direction, key in ((DataDirection.RD_OUT_TO_LOW, "read_bits"), (DataDirection.WR_IN_BY_LOW, "write_bits")):
            a, p, n = amount.get(direction), precision.get(direction), periods.get(direction)
            if a and p and n:
                bits = math.ceil(a * p / dram_width) * dram_width * n * units
                out[key] += bits
                out[f"{layer_op.name}_{key}"] = out.get(f"{layer_op.name}_{key}", 0.0) + bits
    return out


def _is_dram_top(cme: Any) -> bool:
    """True when every operand's top memory level is the DRAM (the translation's invariant)."""
    for layer_op in cme.layer.layer_operands:
        mem_op = cme.memory_operand_links.layer_to_mem_op(layer_op)
        levels = cme.accelerator.memory_hierarchy.get_memory_levels(mem_op)
        if levels[-1].name != "dram" or len(cme.mapping.unit_mem_data_movement[layer_op]) != len(levels):
            return False
    return True


@dataclass
class _Scored:
    """A ZigZag evaluation with the quantities this backend reports."""

    cme: Any
    cycles: float
    energy_pj: float
    dram_read_bits: float
    dram_write_bits: float
    dram_energy_pj: float
    traffic: dict[str, float]


def _score(cme: Any, sa: SAClass) -> _Scored:
    """Stall-free cycles and total energy (ZigZag's on-chip + MAC energy, plus DRAM) of one evaluation."""
    traffic = _dram_traffic(cme, sa.dram.width_bits)
    dram_energy = (traffic["read_bits"] + traffic["write_bits"]) * sa.dram.energy_pj_per_bit
    return _Scored(
        cme=cme,
        cycles=float(cme.latency_total2),
        energy_pj=float(cme.energy_total) + dram_energy,
        dram_read_bits=traffic["read_bits"],
        dram_write_bits=traffic["write_bits"],
        dram_energy_pj=dram_energy,
        traffic=traffic,
    )


def _objective_key(objective: str, s: _Scored) -> tuple[float, float]:
    """Sort key of an evaluation: the objective first, the other quantity as tie-break."""
    if objective == "latency":
        return (s.cycles, s.energy_pj)
    if objective == "energy":
        return (s.energy_pj, s.cycles)
    return (s.cycles * s.energy_pj, s.cycles)


def _make_reduce_stage(sa: SAClass, objective: str, sink: dict[str, Any]):
    """A ZigZag stage keeping the best evaluation by this backend's own objective.

    ZigZag's MinimalLatency/Energy/EDP stages rank by its ``latency_total2`` and
    ``energy_total``; the latter lacks the DRAM energy here (computed from
    traffic), so the ranking is redone with the corrected energy. The first
    evaluation wins ties (LOMA's enumeration order is deterministic).
    """
    from zigzag.stages.stage import Stage

    class BackendObjectiveStage(Stage):
        """Keep the best CME (by the backend objective) among those of the sub-stages."""

        def run(self):
            sub = self.list_of_callables[0](self.list_of_callables[1:], **self.kwargs)
            best: _Scored | None = None
            best_key: tuple[float, float] | None = None
            count = 0
            for cme, _extra in sub.run():
                count += 1
                scored = _score(cme, sa)
                key = _objective_key(objective, scored)
                if best_key is None or key < best_key:
                    best, best_key = scored, key
            if best is None:
                raise RuntimeError("ZigZag produced no mapping")
            sink["best"] = best
            sink["evaluated"] = sink.get("evaluated", 0) + count
            yield best.cme, None

    return BackendObjectiveStage


def count_orderings(accelerator: Any, layer: Any, spatial_mapping: Any, mapping_type: Any, lpf_limit: int,
                    innermost: str | None) -> tuple[int, int]:
    """(LOMA orderings, effective lpf limit) for one layer, spatial mapping and lpf limit, without evaluating any.

    Uses LOMA's own preparation (temporal loops left by the spatial mapping, their
    prime factors, the merging down to ``lpf_limit`` factors, raised by LOMA to
    the number of temporal loops). With the innermost loop fixed to ``innermost``,
    only the share ``m / n`` of the multiset permutations remains, ``m`` being the
    number of that loop's factors among the ``n``.
    """
    from zigzag.datatypes import LayerDim
    from zigzag.opt.loma.engine import LomaEngine

    engine = LomaEngine(accelerator=accelerator, layer=layer, spatial_mapping=spatial_mapping,
                        mapping_type=mapping_type, loma_lpf_limit=lpf_limit)
    engine.temporal_loop_dim_size = engine.get_temporal_loops()
    engine.update_min_lpf_factor(engine.temporal_loop_dim_size)
    engine.get_prime_factors()
    total = engine.nb_permutations
    n = sum(engine.temporal_loop_pf_count_sums.values())
    if innermost is not None:
        m = engine.temporal_loop_pf_count_sums.get(LayerDim(innermost), 0)
        total = total * m // n if n else total
    return total, n


def _make_lpf_stage(max_lpf: int, max_orderings: int, innermost: str | None, sink: dict[str, Any]):
    """A stage choosing LOMA's lpf limit per layer: the largest <= ``max_lpf`` within ``max_orderings``.

    The number of loop orderings LOMA evaluates grows factorially with the lpf
    limit (the number of loop prime factors it permutes), and so does the run
    time (about 5 ms per ordering). Each layer gets the finest loop split whose
    ordering count stays within the budget; if even LOMA's minimum (one factor
    per temporal loop) exceeds it, that minimum is used.
    """
    from zigzag.stages.stage import Stage

    class AdaptiveLpfStage(Stage):
        """Set ``loma_lpf_limit`` for the temporal-mapping stage below from the ordering budget."""

        def run(self):
            kw = self.kwargs
            args = (kw["accelerator"], kw["layer"], kw["spatial_mapping"], kw["temporal_mapping_type"])
            chosen, count = max_lpf, 0
            for lpf in range(max_lpf, 0, -1):
                count, n_factors = count_orderings(*args, lpf, innermost)
                chosen = lpf
                # Within budget, or already at LOMA's floor (it raises the limit to the loop count).
                if count <= max_orderings or n_factors > lpf:
                    break
            sink["lpf_limit_used"] = chosen
            sink["orderings"] = count
            sub = self.list_of_callables[0](self.list_of_callables[1:], **{**kw, "loma_lpf_limit": chosen})
            yield from sub.run()

    return AdaptiveLpfStage


def _make_cost_model_stage():
    """ZigZag's cost-model leaf stage, building the loop-level ``Mapping`` once instead of twice.

    ZigZag's ``CostModelEvaluation`` builds two ``Mapping`` objects, one from the
    fractional spatial mapping (for energy) and one from its integer version (for
    latency), which is about 70% of its run time. When the two spatial mappings
    are equal (every unrolling divides its loop), both Mappings are equal as well
    and read-only afterwards, so one object serves both. Otherwise ZigZag's own
    constructor runs unchanged. ``tests/test_zigzag_backend.py`` checks that the
    two paths give identical numbers.
    """
    from zigzag.cost_model.cost_model import CostModelEvaluation
    from zigzag.mapping.mapping import Mapping
    from zigzag.stages.stage import Stage

    class SharedMappingCME(CostModelEvaluation):
        """``CostModelEvaluation`` whose ``mapping_int`` is ``mapping`` when the spatial mappings coincide."""

        def __init__(self, *, accelerator, layer, spatial_mapping, spatial_mapping_int, temporal_mapping,
                     access_same_data_considered_as_no_access=True, cycles_per_op=1.0):
            if spatial_mapping.mapping_dict_origin != spatial_mapping_int.mapping_dict_origin:
                super().__init__(
                    accelerator=accelerator, layer=layer, spatial_mapping=spatial_mapping,
                    spatial_mapping_int=spatial_mapping_int, temporal_mapping=temporal_mapping,
                    access_same_data_considered_as_no_access=access_same_data_considered_as_no_access,
                    cycles_per_op=cycles_per_op,
                )
                return
            # Same attribute set-up as CostModelEvaluation.__init__ (zigzag-dse 3.9.1), one Mapping.
            self.accelerator = accelerator
            self.layer = layer
            self.spatial_mapping = spatial_mapping
            self.spatial_mapping_int = spatial_mapping_int
            self.temporal_mapping = temporal_mapping
            self.access_same_data_considered_as_no_access = access_same_data_considered_as_no_access
            self.mem_level_list = accelerator.memory_hierarchy.mem_level_list
            self.mem_hierarchy_dict = accelerator.mem_hierarchy_dict
            self.mem_size_dict = accelerator.mem_size_dict
            self.mem_sharing_tuple = tuple(tuple(i.items()) for i in accelerator.mem_sharing_list)
            self.memory_operand_links = layer.memory_operand_links
            self.cumulative_layer_ids = []
            self.spatial_mapping_dict_int = self.spatial_mapping_int.mapping_dict_origin
            self.mapping = Mapping(
                self.accelerator, self.spatial_mapping, self.temporal_mapping, self.layer,
                self.access_same_data_considered_as_no_access,
            )
            self.mapping_int = self.mapping
            self.active_mem_level = self.mapping.mem_level
            self.cycles_per_op = cycles_per_op
            self.run()

    class SharedMappingCostModelStage(Stage):
        """Leaf stage: evaluate one (spatial, temporal) mapping with :class:`SharedMappingCME`."""

        def __init__(self, list_of_callables, *, accelerator, layer, spatial_mapping, spatial_mapping_int,
                     temporal_mapping, access_same_data_considered_as_no_access=True, **kwargs):
            super().__init__(list_of_callables, **kwargs)
            self.args = dict(
                accelerator=accelerator, layer=layer, spatial_mapping=spatial_mapping,
                spatial_mapping_int=spatial_mapping_int, temporal_mapping=temporal_mapping,
                access_same_data_considered_as_no_access=access_same_data_considered_as_no_access,
            )

        def run(self):
            yield SharedMappingCME(**self.args), None

        def is_leaf(self) -> bool:
            return True

    return SharedMappingCostModelStage


# --------------------------------------------------------------------------- #
# The backend


class ZigZagBackend(Backend):
    """Per-layer cost on an SA class from ZigZag (zigzag-dse), with the dataflow's spatial mapping fixed.

    ``objective`` (latency, energy or edp; default :data:`DEFAULT_OBJECTIVE`)
    ranks the temporal mappings. Settings (all part of the cache key, defaults in
    :data:`DEFAULT_SETTINGS`): ``engine`` ("loma" only), ``lpf_limit`` (largest
    number of loop prime factors, int >= 1), ``max_orderings`` (LOMA orderings
    per layer, int >= 1), ``temporal_mapping_type`` ("uneven" or "even"),
    ``access_same_data_considered_as_no_access`` and ``stationary_innermost``
    (bools). ``translation_version`` is added to the settings automatically.
    """

    name = "zigzag"

    #: build ZigZag's Mapping once per evaluation when possible (identical numbers,
    #: about 1.5x faster); False runs ZigZag's own CostModelStage (used by the tests)
    shared_mapping: bool = True

    def __init__(self, objective: str = DEFAULT_OBJECTIVE, **settings: Any):
        unknown = set(settings) - set(DEFAULT_SETTINGS)
        if unknown:
            raise ValueError(
                f"unknown zigzag backend setting(s) {sorted(unknown)} (known: {', '.join(DEFAULT_SETTINGS)})"
            )
        merged = {**DEFAULT_SETTINGS, **settings}
        if merged["engine"] != "loma":
            raise ValueError("zigzag backend: engine must be 'loma' (SALSA is randomised and not reproducible)")
        lpf = merged["lpf_limit"]
        if not isinstance(lpf, int) or isinstance(lpf, bool) or lpf < 1:
            raise ValueError(f"zigzag backend: lpf_limit must be a positive integer, got {lpf!r}")
        budget = merged["max_orderings"]
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise ValueError(f"zigzag backend: max_orderings must be a positive integer, got {budget!r}")
        if merged["temporal_mapping_type"] not in ("uneven", "even"):
            raise ValueError("zigzag backend: temporal_mapping_type must be 'uneven' or 'even'")
        for flag in ("access_same_data_considered_as_no_access", "stationary_innermost"):
            merged[flag] = bool(merged[flag])
        merged["translation_version"] = TRANSLATION_VERSION
        super().__init__(objective=objective, **merged)

    @classmethod
    def check_available(cls) -> None:
        """Raise BackendUnavailable if the zigzag package cannot be imported."""
        try:
            import zigzag  # noqa: F401
            from zigzag.stages.main import MainStage  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailable(
                f"the zigzag backend needs ZigZag: pip install 'zigzag-dse==3.9.1' ({exc})"
            ) from None

    def version(self) -> str:
        """``zigzag-dse <version>`` of the installed package."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"zigzag-dse {version('zigzag-dse')}"
        except PackageNotFoundError:
            self.check_available()
            return "zigzag-dse unknown"

    # ------------------------------------------------------------------ #

    def evaluate(self, sa: SAClass, layer: Layer) -> LayerCost:
        """Stall-free cycles, energy and DRAM traffic of ``layer`` on ``sa`` (see module docstring)."""
        self.check_available()
        from zigzag.mapping.temporal_mapping import TemporalMappingType
        from zigzag.parser.accelerator_factory import AcceleratorFactory
        from zigzag.parser.accelerator_validator import AcceleratorValidator
        from zigzag.parser.mapping_validator import MappingValidator
        from zigzag.parser.workload_factory import WorkloadFactory
        from zigzag.parser.workload_validator import WorkloadValidator
        from zigzag.cost_model.cost_model import CostModelEvaluation
        from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
        from zigzag.stages.main import MainStage
        from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
        from zigzag.stages.mapping.temporal_mapping_generator_stage import TemporalMappingGeneratorStage
        from zigzag.stages.workload_iterator import WorkloadStage

        _quiet_zigzag()
        t0 = time.perf_counter()
        s = self.settings()
        dims, smap = spatial_mapping_for(sa, layer)

        hw_validator = AcceleratorValidator(hardware_dict(sa, dims))
        if not hw_validator.validate():
            raise ValueError(f"{sa.name}: ZigZag rejects the translated hardware: {hw_validator.validator.errors}")
        accelerator = AcceleratorFactory(hw_validator.normalized_data).create()

        wl_validator = WorkloadValidator(workload_list(sa, layer))
        innermost = stationary_loop(sa, layer) if s["stationary_innermost"] else None
        map_validator = MappingValidator(mapping_list(smap, innermost))
        if not wl_validator.validate() or not map_validator.validate():
            raise ValueError(f"ZigZag rejects the translated layer {layer.name} ({layer.shape_key()})")
        workload = WorkloadFactory(wl_validator.normalized_data, map_validator.normalized_data).create()

        sink: dict[str, Any] = {}
        reduce_stage = _make_reduce_stage(sa, self.objective, sink)
        with tempfile.TemporaryDirectory(prefix="relmas-zigzag-") as dump:
            MainStage(
                [
                    WorkloadStage,
                    reduce_stage,
                    SpatialMappingGeneratorStage,
                    _make_lpf_stage(s["lpf_limit"], s["max_orderings"], innermost, sink),
                    TemporalMappingGeneratorStage,
                    _make_cost_model_stage() if self.shared_mapping else CostModelStage,
                ],
                workload=workload,
                accelerator=accelerator,
                dump_folder=dump,
                loma_lpf_limit=s["lpf_limit"],
                loma_show_progress_bar=False,
                nb_mappings_generated=1,
                enable_mix_spatial_mapping_generation=False,
                access_same_data_considered_as_no_access=s["access_same_data_considered_as_no_access"],
                temporal_mapping_type=TemporalMappingType(s["temporal_mapping_type"]),
            ).run()
        best: _Scored = sink["best"]
        cme: CostModelEvaluation = best.cme
        if not _is_dram_top(cme):
            raise RuntimeError(f"{sa.name}/{layer.name}: ZigZag's mapping does not end at the DRAM level")

        used = {
            str(oa): {str(d): _num(u) for d, u in m.items()} for oa, m in sorted(cme.layer.spatial_mapping.items())
        }
        cycles = best.cycles
        utilization = layer.macs / (cycles * sa.peak_macs_per_cycle) if cycles > 0 else 0.0
        details = {
            "dataflow": sa.dataflow.value,
            "array_dims": {d.name: {"size": d.size, "role": d.role} for d in dims},
            "spatial_mapping_requested": smap,
            "spatial_mapping": used,
            "innermost_temporal_loop": innermost,
            "temporal_innermost_used": _innermost_loops(cme),
            "temporal_mapping": str(cme.temporal_mapping),
            "ideal_cycles": float(cme.ideal_cycle),
            "ideal_temporal_cycles": float(cme.ideal_temporal_cycle),
            "onchip_stall_cycles": float(cme.stall_slack_comb),
            "stall_by_port": {
                f"{level.name}.{port}": float(v)
                for level, ports in zip(cme.mem_level_list, cme.stall_slack_comb_collect)
                for port, v in ports.items()
                if v > 0
            },
            "onloading_cycles": float(cme.data_onloading_cycle),
            "offloading_cycles": float(cme.data_offloading_cycle),
            "spatial_utilization": float(cme.mac_spatial_utilization),
            "mac_energy_pj": float(cme.mac_energy),
            "onchip_memory_energy_pj": float(cme.mem_energy),
            "dram_energy_pj": best.dram_energy_pj,
            "dram_bits": {k: v for k, v in best.traffic.items() if k not in ("read_bits", "write_bits")},
            "mappings_evaluated": sink.get("evaluated", 0),
            "lpf_limit_used": sink.get("lpf_limit_used"),
            "loma_orderings": sink.get("orderings"),
        }
        logger.debug("%s %s: %d mappings in %.2f s", sa.name, layer.name, details["mappings_evaluated"],
                     time.perf_counter() - t0)
        return LayerCost(
            cycles=cycles,
            energy_pj=best.energy_pj,
            dram_read_bytes=best.dram_read_bits / 8.0,
            dram_write_bytes=best.dram_write_bits / 8.0,
            utilization=utilization,
            details=details,
        )


def _innermost_loops(cme: Any) -> dict[str, str | None]:
    """Innermost temporal loop of each operand in the mapping ZigZag evaluated (None: no temporal loop)."""
    out: dict[str, str | None] = {}
    for layer_op, levels in cme.temporal_mapping.mapping_dic_origin.items():
        first = next((loops[0] for loops in levels if loops), None)
        out[layer_op.name] = None if first is None else str(first[0])
    return out


def _num(x: Any) -> float | int:
    """A ZigZag unroll factor as a plain number (ints stay ints)."""
    f = float(x)
    return int(f) if f.is_integer() else round(f, 6)


def _quiet_zigzag() -> None:
    """ZigZag logs every stage at INFO; keep only warnings and errors, without touching the root logger."""
    logging.getLogger("zigzag").setLevel(logging.WARNING)
