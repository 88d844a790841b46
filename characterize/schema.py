"""Validated descriptions of sub-accelerator classes, systems and DNN models.

The YAML files under ``arch/``, ``arch/systems/`` and ``layers/`` are the single
source every other part of the toolkit reads. They are loaded with
``yaml.SafeLoader`` only (never code execution; a key given twice in one
mapping is an error, not "last wins"), checked with pydantic (unknown fields,
wrong types, non-positive sizes are errors), and then checked for the
cross-field rules pydantic cannot express (dependency cycles, unknown
predecessors, each layer's own shape rules: groups dividing C and K, the
kernel of each op). Channel and map sizes are not matched across layers:
concatenations, flattening and attention make that model-specific, and
`relmas models register` derives both from a traced model. Every failure is an
:class:`~characterize.errors.InputError` naming the file and the field or layer.
"""
from __future__ import annotations


import math
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import InputError

# --------------------------------------------------------------------------- #
# YAML loading


class _DuplicateKey(yaml.YAMLError):
    """A key given twice in one YAML mapping (PyYAML alone would keep the last one silently)."""

    def __init__(self, key: Any, mark: yaml.Mark, first_line: int):
        super().__init__(f"duplicate key {key!r} (first given at line {first_line})")
        self.mark = mark


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` refusing a key given twice in any mapping (``<<`` merge keys excepted).

    The check runs on a mapping's own keys, before PyYAML's ``flatten_mapping``
    merges ``<<`` entries into the node in place, and once per node: an anchored
    node built again through an alias already holds its merged keys, which may
    legitimately repeat its own (own keys override merged ones).
    """

    def __init__(self, stream: Any):
        super().__init__(stream)
        self._checked: set[int] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        if id(node) not in self._checked:
            self._checked.add(id(node))
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in first_line:
                        raise _DuplicateKey(key, key_node.start_mark, first_line[key])
                    first_line[key] = key_node.start_mark.line + 1
                except TypeError:  # unhashable key: SafeLoader reports it when it builds the mapping
                    pass
        super().flatten_mapping(node)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read one YAML mapping safely; raise InputError on syntax errors, duplicate keys, non-UTF-8 or empty files."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "", "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "", "is a directory, expected a YAML file") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise InputError(path, f"line {line}", f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                         f"{exc.start}); save the file as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as exc:
        raise InputError(path, f"line {exc.mark.line + 1}, column {exc.mark.column + 1}", str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "syntax"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(path, where, f"YAML syntax error: {problem}") from None
    if data is None:
        raise InputError(path, "", "file is empty")
    if not isinstance(data, dict):
        raise InputError(path, "", f"expected a mapping at the top level, got {type(data).__name__}")
    return data


def _loc_to_field(loc: tuple, data: dict[str, Any] | None = None) -> str:
    """Turn a pydantic error location into ``layers[3] (conv2).after``."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and 0 <= item < len(node):
                node = node[item]
                if isinstance(node, dict) and "name" in node:
                    label += f" ({node['name']})"
            else:
                node = None
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts)


class FieldError(ValueError):
    """A cross-field check's failure at a known place: ``loc`` is relative to the model being validated.

    Raised inside a pydantic ``model_validator``; :func:`validate_as` reports it at
    that field (``pe_buffers[2] (glb).name``) rather than at the model as a whole.
    """

    def __init__(self, loc: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.loc = tuple(loc)


def validate_as(cls: type[BaseModel], data: dict[str, Any], path: Path) -> Any:
    """Validate ``data`` (read from ``path``) as ``cls``; one error becomes an InputError naming the field.

    An unknown field is reported before any other error: a misspelt field
    (``mac_per_pe``) also makes the right one missing, and the typo is the news.
    """
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc, msg = tuple(err["loc"]), err["msg"]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, FieldError):
            loc, msg = loc + cause.loc, str(cause)
        field = _loc_to_field(loc, data)
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "missing required field"
        elif err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
        more = len(exc.errors()) - 1
        if more:
            msg += f" (and {more} more error{'s' if more > 1 else ''})"
        raise InputError(path, field, msg) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- #
# Sub-accelerator classes: arch/<name>.yaml

Operand = Literal["input", "weight", "output"]


class Dataflow(str, Enum):
    """Spatial dataflow of a PE array. Backends map each one explicitly."""

    ROW_STATIONARY = "row_stationary"  # Eyeriss: filter rows x output rows on the array
    WEIGHT_STATIONARY = "weight_stationary"  # Simba/NVDLA: input x output channels
    OUTPUT_STATIONARY = "output_stationary"  # ShiDianNao-like: output pixels on the array


class Memory(_Strict):
    """One buffer level: its size, what it holds and its per-access energy."""

    name: str
    size_bytes: PositiveInt
    holds: list[Operand] = Field(min_length=1)
    width_bits: PositiveInt = Field(description="bits moved per read or write access")
    read_energy_pj: PositiveFloat = Field(description="energy of one read access of width_bits")
    write_energy_pj: PositiveFloat = Field(description="energy of one write access of width_bits")
    ports: Literal["single", "dual"] = "dual"

    @field_validator("holds")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("an operand is listed twice")
        return v


class PEArray(_Strict):
    """Shape of the PE array (rows x cols PEs)."""

    rows: PositiveInt
    cols: PositiveInt


class Precision(_Strict):
    """Bits per word of each operand (psum: partial sums kept on chip)."""

    input: PositiveInt = 8
    weight: PositiveInt = 8
    output: PositiveInt = 8
    psum: PositiveInt = 24


class DRAM(_Strict):
    """Off-chip memory as seen by one SA: per-bit access energy."""

    energy_pj_per_bit: PositiveFloat
    width_bits: PositiveInt = 64


class SAClass(_Strict):
    """A sub-accelerator class (paper Table 1): one YAML file under ``arch/``.

    ``pe_buffers`` are per PE (one entry per scratchpad); ``global_buffer`` is
    shared by the array. Operands not held by a level bypass it.
    """

    name: str
    description: str = ""
    dataflow: Dataflow
    frequency_ghz: PositiveFloat = 1.0
    pe_array: PEArray
    macs_per_pe: PositiveInt
    vector: PEArray | None = Field(
        default=None,
        description="shape of the MAC vector inside each PE (rows x cols = macs_per_pe), "
        "e.g. 4 input channels x 4 output channels for a Simba PE",
    )
    precision: Precision = Precision()
    global_buffer: Memory
    pe_buffers: list[Memory] = Field(min_length=1)
    mac_energy_pj: PositiveFloat
    dram: DRAM
    energy_source: str = Field(min_length=1, description="where the energy figures come from")

    @property
    def num_pes(self) -> int:
        return self.pe_array.rows * self.pe_array.cols

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.num_pes * self.macs_per_pe

    @property
    def pe_buffer_bytes(self) -> int:
        return sum(m.size_bytes for m in self.pe_buffers)

    @model_validator(mode="after")
    def _checks(self) -> "SAClass":
        if self.vector is not None and self.vector.rows * self.vector.cols != self.macs_per_pe:
            raise ValueError(
                f"vector {self.vector.rows}x{self.vector.cols} does not give macs_per_pe={self.macs_per_pe}"
            )
        if self.vector is None and self.macs_per_pe != 1:
            raise ValueError("vector (rows x cols MACs inside a PE) is required when macs_per_pe > 1")
        held = {op for m in self.pe_buffers for op in m.holds}
        missing = {"input", "weight", "output"} - held
        if missing:
            raise ValueError(f"pe_buffers hold no {sorted(missing)}: every operand needs a PE-level buffer")
        # Backends key buffers by name: a repeated name would silently merge two buffers.
        seen: dict[str, str] = {}
        levels = [(("global_buffer",), self.global_buffer)]
        levels += [(("pe_buffers", i), m) for i, m in enumerate(self.pe_buffers)]
        for loc, mem in levels:
            if mem.name.lower() == "dram":
                raise FieldError(loc + ("name",), f"'{mem.name}' is reserved for the off-chip level (field dram); "
                                 "rename the buffer")
            if mem.name in seen:
                raise FieldError(loc + ("name",), f"buffer name '{mem.name}' is already used by {seen[mem.name]}; "
                                 "buffer names must be unique")
            seen[mem.name] = _loc_to_field(loc)
        return self


def load_sa_class(path: str | Path) -> SAClass:
    """Load and validate ``arch/<name>.yaml``; the file stem must equal ``name``."""
    path = Path(path)
    data = load_yaml(path)
    sa = validate_as(SAClass, data, path)
    if sa.name != path.stem:
        raise InputError(path, "name", f"'{sa.name}' differs from the file name '{path.stem}'")
    return sa


# --------------------------------------------------------------------------- #
# Systems: arch/systems/<name>.yaml


class NoP(_Strict):
    """Network-on-package linking the SAs (paper Table 1: 100 GB/s, 1.3 pJ/bit)."""

    bandwidth_gbps: PositiveFloat
    energy_pj_per_bit: PositiveFloat


class SAInstance(_Strict):
    """One SA of a system, by class name."""

    name: str
    sa_class: str = Field(alias="class")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class System(_Strict):
    """A multi-accelerator system (MAS): SA instances sharing one DRAM."""

    name: str
    description: str = ""
    frequency_ghz: PositiveFloat = 1.0
    dram_bandwidth_gbps: PositiveFloat
    nop: NoP
    accelerators: list[SAInstance] = Field(min_length=1)

    @field_validator("accelerators")
    @classmethod
    def _unique_names(cls, v: list[SAInstance]) -> list[SAInstance]:
        names = [a.name for a in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate accelerator names {sorted(dup)}")
        return v

    @property
    def bandwidth_bytes_per_cycle(self) -> float:
        """Shared DRAM bandwidth in bytes per SA cycle (16 GB/s at 1 GHz = 16 B/cycle)."""
        return self.dram_bandwidth_gbps / self.frequency_ghz

    @property
    def classes(self) -> list[str]:
        """SA class of each instance, in instance order."""
        return [a.sa_class for a in self.accelerators]


def load_system(path: str | Path, arch_dir: str | Path | None = None) -> System:
    """Load a system and check its SA classes in ``arch_dir`` (default: the system file's grandparent folder).

    Every class must exist, be valid and run at the system's ``frequency_ghz``:
    the simulator counts every SA's cycles on the one system clock.
    """
    path = Path(path)
    data = load_yaml(path)
    system = validate_as(System, data, path)
    if system.name != path.stem:
        raise InputError(path, "name", f"'{system.name}' differs from the file name '{path.stem}'")
    if arch_dir is None:
        arch_dir = path.parent.parent
    arch_dir = Path(arch_dir)
    classes: dict[str, SAClass] = {}
    for i, inst in enumerate(system.accelerators):
        cpath = arch_dir / f"{inst.sa_class}.yaml"
        if not cpath.is_file():
            known = sorted(p.stem for p in arch_dir.glob("*.yaml"))
            raise InputError(
                path,
                f"accelerators[{i}] ({inst.name}).class",
                f"SA class '{inst.sa_class}' does not exist in {arch_dir}/ (known: {', '.join(known)})",
            )
        if inst.sa_class not in classes:
            classes[inst.sa_class] = load_sa_class(cpath)
        freq = classes[inst.sa_class].frequency_ghz
        if not math.isclose(freq, system.frequency_ghz, rel_tol=1e-9):
            raise InputError(
                path,
                "frequency_ghz",
                f"{system.frequency_ghz} GHz, but SA class '{inst.sa_class}' ({cpath}, used by accelerators[{i}] "
                f"({inst.name})) has frequency_ghz {freq}: the simulator runs every SA on the system clock, "
                "so each class's frequency_ghz must equal the system's",
            )
    return system


# --------------------------------------------------------------------------- #
# Models: layers/<name>.yaml

OpType = Literal["conv", "dwconv", "gconv", "fc", "matmul"]


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return (int(v[0]), int(v[1]))
    raise ValueError("expected an integer or a pair [vertical, horizontal] of integers")


class Layer(_Strict):
    """One compute layer, in Timeloop's CONV naming.

    N batch, C input channels, K output channels, R x S filter, P x Q output
    map. For ``fc`` and ``matmul``, R = S = 1 and P x Q is the number of rows
    (tokens) multiplied by the weight matrix (1 x 1 for a batch-1 FC). Channels
    C and K are totals: a grouped conv with G groups does (C/G)*(K/G)*G
    channel pairs. ``after`` names the layers whose outputs this one reads;
    an empty list means the model input.
    """

    name: str = Field(min_length=1)
    op: OpType
    N: PositiveInt = 1
    C: PositiveInt
    K: PositiveInt
    R: PositiveInt = 1
    S: PositiveInt = 1
    P: PositiveInt = 1
    Q: PositiveInt = 1
    stride: Annotated[tuple[int, int], Field()] = (1, 1)
    padding: Annotated[tuple[int, int], Field()] = (0, 0)
    groups: PositiveInt = 1
    after: list[str] = Field(default_factory=list)

    @field_validator("stride", "padding", mode="before")
    @classmethod
    def _to_pair(cls, v: Any) -> tuple[int, int]:
        return _pair(v)

    @field_validator("stride")
    @classmethod
    def _positive_stride(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) <= 0:
            raise ValueError("stride must be positive")
        return v

    @field_validator("padding")
    @classmethod
    def _nonneg_pad(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) < 0:
            raise ValueError("padding must not be negative")
        return v

    @model_validator(mode="after")
    def _op_rules(self) -> "Layer":
        if self.C % self.groups or self.K % self.groups:
            raise ValueError(f"groups={self.groups} does not divide C={self.C} and K={self.K}")
        if self.op == "conv" and self.groups != 1:
            raise ValueError("op 'conv' has groups=1; use 'gconv' or 'dwconv'")
        if self.op == "dwconv" and not (self.groups == self.C):
            raise ValueError(f"op 'dwconv' needs groups == C (got groups={self.groups}, C={self.C})")
        if self.op == "gconv" and self.groups == 1:
            raise ValueError("op 'gconv' needs groups > 1")
        if self.op in ("fc", "matmul") and (self.R, self.S) != (1, 1):
            raise ValueError(f"op '{self.op}' has R = S = 1")
        if self.op == "fc" and self.groups != 1:
            raise ValueError("op 'fc' has groups=1")
        if len(set(self.after)) != len(self.after):
            raise ValueError("a predecessor is listed twice")
        return self

    @property
    def macs(self) -> int:
        """Multiply-accumulates: N*P*Q*K*(C/groups)*R*S."""
        return self.N * self.P * self.Q * self.K * (self.C // self.groups) * self.R * self.S

    @property
    def input_hw(self) -> tuple[int, int]:
        """Input feature-map size implied by the output size, stride, filter and padding."""
        h = (self.P - 1) * self.stride[0] + self.R - 2 * self.padding[0]
        w = (self.Q - 1) * self.stride[1] + self.S - 2 * self.padding[1]
        return (max(h, 1), max(w, 1))

    def shape_key(self) -> tuple:
        """What determines the layer's cost on an SA: used as a cache key (names excluded)."""
        return (self.op, self.N, self.C, self.K, self.R, self.S, self.P, self.Q, self.stride, self.padding, self.groups)


class ModelSource(_Strict):
    """Where a layer table comes from (paper, code, torchvision factory, ONNX)."""

    variant: str = Field(min_length=1)
    reference: str = Field(min_length=1)
    input: str = ""


class Model(_Strict):
    """A DNN model: its compute layers in topological order with their dependencies."""

    name: str = Field(min_length=1)
    description: str = ""
    source: ModelSource
    layers: list[Layer] = Field(min_length=1)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def layer_index(self) -> dict[str, int]:
        return {layer.name: i for i, layer in enumerate(self.layers)}

    def predecessors(self) -> list[list[int]]:
        """Predecessor indices of every layer."""
        idx = self.layer_index()
        return [[idx[p] for p in layer.after] for layer in self.layers]


def check_model_graph(model: Model, path: Path) -> None:
    """Layer names unique, predecessors known, no cycle, layers in topological order; else an InputError."""
    seen: dict[str, int] = {}
    for i, layer in enumerate(model.layers):
        if layer.name in seen:
            raise InputError(path, f"layers[{i}] ({layer.name}).name", "duplicate layer name")
        seen[layer.name] = i
    # Unknown predecessors first (clearer than a cycle message), then order / cycles.
    for i, layer in enumerate(model.layers):
        for p in layer.after:
            if p not in seen:
                raise InputError(path, f"layers[{i}] ({layer.name}).after", f"unknown predecessor '{p}'")
            if p == layer.name:
                raise InputError(path, f"layers[{i}] ({layer.name}).after", "a layer cannot depend on itself")
    # Cycle detection (iterative DFS, colours): report one layer on the cycle.
    state = {name: 0 for name in seen}  # 0 new, 1 on stack, 2 done
    by_name = {layer.name: layer for layer in model.layers}
    for root in seen:
        if state[root]:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, k = stack[-1]
            preds = by_name[node].after
            if k < len(preds):
                stack[-1] = (node, k + 1)
                nxt = preds[k]
                if state[nxt] == 1:
                    cyc = [n for n, _ in stack]
                    cyc = cyc[cyc.index(nxt):] + [nxt]
                    i = seen[node]
                    raise InputError(
                        path, f"layers[{i}] ({node}).after", "dependency cycle: " + " -> ".join(reversed(cyc))
                    )
                if state[nxt] == 0:
                    state[nxt] = 1
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                stack.pop()
    # The file lists layers in topological order (the table and simulator rely on it).
    for i, layer in enumerate(model.layers):
        for p in layer.after:
            if seen[p] > i:
                raise InputError(
                    path,
                    f"layers[{i}] ({layer.name}).after",
                    f"predecessor '{p}' is listed after this layer; list layers in topological order",
                )


def load_model(path: str | Path) -> Model:
    """Load and validate ``layers/<name>.yaml``; the file stem must equal ``name``."""
    path = Path(path)
    data = load_yaml(path)
    model = validate_as(Model, data, path)
    if model.name != path.stem:
        raise InputError(path, "name", f"'{model.name}' differs from the file name '{path.stem}'")
    check_model_graph(model, path)
    return model


def model_to_dict(model: Model) -> dict[str, Any]:
    """Plain-YAML form of a model (short keys, defaults omitted where obvious)."""
    layers = []
    for layer in model.layers:
        d: dict[str, Any] = {"name": layer.name, "op": layer.op}
        for k in ("N", "C", "K", "R", "S", "P", "Q"):
            d[k] = getattr(layer, k)
        d["stride"] = layer.stride[0] if layer.stride[0] == layer.stride[1] else list(layer.stride)
        d["padding"] = layer.padding[0] if layer.padding[0] == layer.padding[1] else list(layer.padding)
        d["groups"] = layer.groups
        d["after"] = list(layer.after)
        layers.append(d)
    return {
        "name": model.name,
        "description": model.description,
        "source": model.source.model_dump(),
        "layers": layers,
    }


# --------------------------------------------------------------------------- #
# Kind detection for `relmas validate`


def detect_kind(path: Path, data: dict[str, Any]) -> str:
    """Guess whether a YAML file is an SA class, a system or a model."""
    if "layers" in data:
        return "model"
    if "accelerators" in data:
        return "system"
    if "dataflow" in data or "pe_array" in data:
        return "sa_class"
    if path.parent.name == "systems":
        return "system"
    if path.parent.name == "layers":
        return "model"
    if path.parent.name == "arch":
        return "sa_class"
    raise InputError(path, "", "cannot tell what this file is: expected an SA class (dataflow, pe_array), "
                     "a system (accelerators) or a model (layers)")


def validate_file(path: str | Path, arch_dir: str | Path | None = None) -> str:
    """Validate any arch, system or model YAML. Returns its kind; raises InputError.

    An SA class is also checked against what the default characterisation
    backend is known to refuse (an unsupported dataflow, for example).
    """
    path = Path(path)
    data = load_yaml(path)
    kind = detect_kind(path, data)
    if kind == "model":
        load_model(path)
    elif kind == "system":
        load_system(path, arch_dir)
    else:
        sa = load_sa_class(path)
        from .backends.class_checks import DEFAULT_BACKEND, class_problems  # here: it imports this module

        problems = class_problems(DEFAULT_BACKEND, sa)
        if problems:
            raise InputError(path, *problems[0])
    return kind


