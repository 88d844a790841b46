"""Per-layer costs of every model on every SA instance of one system.

Built from a characterisation table (``outputs/tables/<name>.csv``, one row per
model x layer x SA class) and a system file: each SA instance takes the rows of
its class. This is all the simulator and the schedulers know of the hardware.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class ModelCost:
    """One model's layers on the M SAs of a system.

    Attributes:
        name: model name (``layers/<name>.yaml``).
        layers: layer names in topological (file) order.
        cycles: float64 [L, M], stall-free cycles of layer l on SA m.
        bw: float64 [L, M], required DRAM bandwidth in bytes per cycle.
        energy: float64 [L, M], energy in pJ.
        dram_bytes: float64 [L, M], DRAM bytes read + written.
        preds: predecessor layer indices of every layer (all < l).
    """

    name: str
    layers: list[str]
    cycles: np.ndarray
    bw: np.ndarray
    energy: np.ndarray
    dram_bytes: np.ndarray
    preds: list[list[int]]

    @property
    def num_layers(self) -> int:
        return len(self.layers)


@dataclass
class SystemCosts:
    """Costs of a set of models on one system.

    Attributes:
        system: system name.
        sa_names: instance names, M of them, in system order.
        sa_classes: class of each instance.
        bandwidth: shared DRAM bandwidth in bytes per cycle.
        nop_energy_pj_per_bit: energy of moving one bit over the network-on-package.
        models: the models, indexed by position.
    """

    system: str
    sa_names: list[str]
    sa_classes: list[str]
    bandwidth: float
    nop_energy_pj_per_bit: float
    models: list[ModelCost]
    table: str = ""
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {m.name: i for i, m in enumerate(self.models)}

    @property
    def num_sas(self) -> int:
        return len(self.sa_names)

    def model_id(self, name: str) -> int:
        return self._index[name]

    def model(self, name: str) -> ModelCost:
        return self.models[self._index[name]]

    def digest(self) -> str:
        """sha256 of everything the simulator reads: SA classes, bandwidth, NoP energy, every model's costs.

        A cache keyed by it (the label cache) goes stale when the system file, the
        table or a model's layers change, whatever their paths.
        """
        h = hashlib.sha256()
        h.update(json.dumps([self.sa_classes, float(self.bandwidth), float(self.nop_energy_pj_per_bit)]).encode())
        for m in self.models:
            h.update(json.dumps([m.name, m.layers, m.preds]).encode())
            for a in (m.cycles, m.bw, m.energy, m.dram_bytes):
                h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        return h.hexdigest()

    def with_bandwidth(self, bandwidth: float) -> "SystemCosts":
        """Same costs on a system whose DRAM gives ``bandwidth`` bytes per cycle."""
        return SystemCosts(self.system, self.sa_names, self.sa_classes, float(bandwidth),
                           self.nop_energy_pj_per_bit, self.models, self.table)


def _shape_columns(layer) -> dict[str, object]:
    """The table columns that record a layer's shape (characterize/table.py writes them), as the layer file says."""
    return {"op": layer.op, "N": layer.N, "C": layer.C, "K": layer.K, "R": layer.R, "S": layer.S, "P": layer.P,
            "Q": layer.Q, "stride": layer.stride[0], "stride_w": layer.stride[1], "groups": layer.groups,
            "pad_h": layer.padding[0], "pad_w": layer.padding[1]}


def load_costs(table: str | Path, system: str | Path, layers_dir: str | Path = "layers",
               arch_dir: str | Path | None = None, models: list[str] | None = None) -> SystemCosts:
    """Costs of the table's models on ``system``.

    Each SA instance takes the table rows of its class; every (model, layer,
    class) the system needs must be in the table. Layer order and dependencies
    come from ``layers_dir/<model>.yaml``, whose layer names and shapes must
    match the table's rows (a table built before a layer was edited is stale).
    """
    from characterize.errors import InputError
    from characterize.schema import load_model, load_system
    from characterize.table import read_table

    table = Path(table)
    df = read_table(table)
    sysdef = load_system(system, arch_dir)
    classes = sysdef.classes
    names = models or list(dict.fromkeys(df["model"]))
    out: list[ModelCost] = []
    for name in names:
        mpath = Path(layers_dir) / f"{name}.yaml"
        if not mpath.is_file():
            raise InputError(table, "model", f"model '{name}' has no layer file {mpath}")
        model = load_model(mpath)
        sub = df[df["model"] == name]
        if sub.empty:
            raise InputError(table, "model", f"model '{name}' is not in the table")
        L, M = len(model.layers), len(classes)
        arrays = {k: np.zeros((L, M)) for k in ("cycles", "bw", "energy", "dram")}
        lookup = {(r.layer, r.sa_class): r for r in sub.itertuples(index=False)}
        for li, layer in enumerate(model.layers):
            for m, cls in enumerate(classes):
                r = lookup.get((layer.name, cls))
                if r is None:
                    raise InputError(table, f"{name}/{layer.name}",
                                     f"no row for SA class '{cls}' (system {sysdef.name}); re-run `relmas characterize` "
                                     f"with that class, or check that {mpath} matches the table")
                for col, want in _shape_columns(layer).items():
                    have = getattr(r, col, want)  # extras (op, stride_w, pad_h, pad_w) may be absent
                    if have != want:
                        raise InputError(table, f"{name}/{layer.name} ({cls}).{col}",
                                         f"table row for {name}/{layer.name} has {col}={have} but {mpath} says "
                                         f"{col}={want}: rebuild the table with `relmas characterize`")
                arrays["cycles"][li, m] = r.cycles
                arrays["bw"][li, m] = r.bandwidth_bpc
                arrays["energy"][li, m] = r.energy_pj
                arrays["dram"][li, m] = r.dram_read_bytes + r.dram_write_bytes
        if len(sub) != L * len(set(sub["sa_class"])):
            raise InputError(table, name, f"table rows do not match the {L} layers of {mpath}; re-run characterize")
        out.append(ModelCost(name=name, layers=[l.name for l in model.layers], cycles=arrays["cycles"],
                             bw=arrays["bw"], energy=arrays["energy"], dram_bytes=arrays["dram"],
                             preds=model.predecessors()))
    return SystemCosts(system=sysdef.name, sa_names=[a.name for a in sysdef.accelerators], sa_classes=classes,
                       bandwidth=sysdef.bandwidth_bytes_per_cycle, nop_energy_pj_per_bit=sysdef.nop.energy_pj_per_bit,
                       models=out, table=str(table))
