"""Register a DNN model (ONNX file or PyTorch factory) as a layer table.

:func:`register_model` turns a model into a validated
:class:`~characterize.schema.Model`: one entry per compute layer with its
shape (N C K R S P Q, stride, padding, groups) and the names of its
predecessor compute layers.

Compute layers:

* convolutions (ONNX ``Conv``, ``nn.Conv1d``/``nn.Conv2d``, ``F.conv1d``/
  ``F.conv2d``) become ``conv`` (groups = 1), ``dwconv`` (groups = C) or
  ``gconv`` (any other grouping). A 1-D convolution is a 2-D one with R = 1,
  P = 1.
* products with a weight (ONNX ``Gemm``, ``MatMul`` with a constant operand,
  ``nn.Linear``, ``F.linear``, ``torch.matmul`` with a parameter) become
  ``fc``: C inputs, K outputs, N the leading (batch) dimension of a 3-D or
  higher operand and P the product of the remaining row dimensions (a 2-D
  operand: N = 1, P = its rows; 1 x 1 for a batch-1 classifier).
* products of two activations (attention scores, ...) become ``matmul``:
  C the reduction length, K the output columns, P the output rows, N the
  product of the batch dimensions.

Every other operator (activations, pooling, normalisation, concat, add,
flatten, reshape, dropout, ...) is folded into the dependency graph, never cut
out of it: a layer's predecessors are the nearest compute layers upstream
through any chain of non-compute operators. A concat of four branches gives
the next layer four predecessors; a residual add gives the consumer of the
sum both the block's last layer and every compute layer that produced the
shortcut (the transitively implied edges are kept, so ``after`` is exactly
the set of compute layers whose outputs reach the layer's input). Operators
that only read a tensor's shape (``Shape``, ``x.size()``) carry no data and
create no dependency; a product or convolution of constants alone (weight
preprocessing) is folded like any inference compiler would and is not a layer.

Operators that do compute but that the layer schema cannot describe
(transposed, 3-D or dilated convolutions, recurrent cells, einsum, control
flow) are refused with an :class:`~characterize.errors.InputError` rather than
silently dropped.

PyTorch models are traced with :mod:`torch.fx` (layer names from module paths:
``layer1.0.conv1`` → ``layer1_0_conv1``) and shapes come from running the
model once on a zero input. A model fx cannot trace (data-dependent control
flow, a leaf module the schema cannot describe such as
``nn.MultiheadAttention``) is exported to ONNX in memory with the TorchScript
exporter and registered through the ONNX path, whose node names carry the
same module paths.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import math
import operator
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from .errors import InputError
from .schema import Model, check_model_graph, validate_as

DEFAULT_INPUT: tuple[int, ...] = (3, 224, 224)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# --------------------------------------------------------------------------- #
# Small helpers


def parse_input_shape(text: str) -> tuple[int, ...]:
    """Parse ``CxHxW`` (or ``CxL`` / ``C``) into a tuple of positive ints.

    The batch dimension is not given: registered models always run with N = 1.
    Raises InputError naming ``--input`` on anything else.
    """
    parts = str(text).strip().lower().replace("×", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if not dims or len(dims) > 3 or min(dims) <= 0:
        raise InputError("--input", "", f"expected CxHxW with positive integers, such as 3x224x224; got '{text}'")
    return dims


def check_model_name(name: str) -> str:
    """Return ``name`` if it can be a model name (and file stem); raise InputError otherwise."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name.endswith((".yaml", ".yml")):
        raise InputError("--name", "", f"'{name}' is not a valid model name: use letters, digits, '_', '-' or '.', "
                         "starting with a letter or digit, without a file extension")
    return name


def sanitize_name(raw: str) -> str:
    """Turn a module path or node name into a layer name: ``features.0`` → ``features_0``."""
    s = re.sub(r"[^A-Za-z0-9_]+", "_", raw).strip("_")
    s = re.sub(r"_+", "_", s)
    if not s:
        s = "layer"
    if s[0].isdigit():
        s = "layer_" + s
    return s


class _Namer:
    """Hand out sanitized, unique names; a repeated name gets ``_2``, ``_3``, ..."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, raw: str) -> str:
        base = sanitize_name(raw)
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name


def _ordered_union(lists: Iterable[Sequence[str]]) -> list[str]:
    seen: dict[str, None] = {}
    for lst in lists:
        for x in lst:
            seen.setdefault(x, None)
    return list(seen)


def _conv_op(groups: int, c: int) -> str:
    if groups == 1:
        return "conv"
    if groups == c:
        return "dwconv"
    return "gconv"


def _prod(xs: Iterable[int]) -> int:
    return int(math.prod(int(x) for x in xs))


# --------------------------------------------------------------------------- #
# Source-independent graph and folding


@dataclass
class _Op:
    """One operator of the source graph, after classification.

    ``inputs`` are the keys of the operators producing its inputs (graph inputs
    and constants produce nothing). ``layer`` holds the compute layer's fields
    (without ``after``) or None for a non-compute operator. ``shape_only``
    marks operators whose output is shape data, not feature data.
    """

    key: str
    inputs: list[str] = field(default_factory=list)
    layer: dict[str, Any] | None = None
    shape_only: bool = False


def _fold(ops: Sequence[_Op]) -> list[dict[str, Any]]:
    """Fold non-compute operators: each layer's ``after`` = nearest compute layers upstream."""
    frontier: dict[str, list[str]] = {}
    layers: list[dict[str, Any]] = []
    for op in ops:
        if op.shape_only:
            frontier[op.key] = []
            continue
        up = _ordered_union(frontier.get(i, []) for i in op.inputs)
        if op.layer is None:
            frontier[op.key] = up
        else:
            layers.append({**op.layer, "after": up})
            frontier[op.key] = [op.layer["name"]]
    return layers


def _conv_fields(name: str, x_shape: Sequence[int], w_shape: Sequence[int], y_shape: Sequence[int],
                 stride: Sequence[int], padding: Sequence[int], dilation: Sequence[int], groups: int,
                 source: str) -> dict[str, Any]:
    """Layer fields of a 1-D or 2-D convolution from its input, weight and output shapes."""
    nd = len(x_shape) - 2
    if nd not in (1, 2) or len(y_shape) != len(x_shape) or len(w_shape) != nd + 2:
        raise InputError(source, f"layer {name}",
                         f"only 1-D and 2-D convolutions are supported (input shape {list(x_shape)})")
    if any(d != 1 for d in dilation):
        raise InputError(source, f"layer {name}", f"dilated convolution (dilation {list(dilation)}) cannot be "
                         "described by the layer schema, which has no dilation field")
    if nd == 1:
        x_shape, w_shape, y_shape = ([*x_shape[:2], 1, x_shape[2]], [*w_shape[:2], 1, w_shape[2]],
                                     [*y_shape[:2], 1, y_shape[2]])
        stride, padding = (1, stride[0]), (0, padding[0])
    c = int(x_shape[1])
    k = int(w_shape[0])
    if int(w_shape[1]) * groups != c:
        raise InputError(source, f"layer {name}", f"weight shape {list(w_shape)} with groups={groups} does not "
                         f"match {c} input channels")
    return {
        "name": name, "op": _conv_op(groups, c), "N": int(y_shape[0]), "C": c, "K": k,
        "R": int(w_shape[2]), "S": int(w_shape[3]), "P": int(y_shape[2]), "Q": int(y_shape[3]),
        "stride": [int(stride[0]), int(stride[1])], "padding": [int(padding[0]), int(padding[1])],
        "groups": int(groups),
    }


def _product_fields(name: str, y_shape: Sequence[int], c: int, k: int, weight: bool) -> dict[str, Any]:
    """Layer fields of a matrix product with reduction length ``c`` and ``k`` output columns.

    ``y_shape`` is the output shape; its elements are rows x k. For ``fc``
    (``weight``), N is the leading dimension of a 3-D or higher output and P
    the remaining rows (a 2-D output: N = 1, P = rows); for ``matmul`` P is
    the output row count and N the product of the batch dimensions.
    """
    numel = _prod(y_shape) if y_shape else 1
    rows = max(numel // k, 1)
    if weight:
        # (batch, ..., k): N = batch, P = the other rows; a 2-D (rows, k) product has N = 1, P = rows
        n = int(y_shape[0]) if len(y_shape) >= 3 else 1
        p = max(rows // n, 1)
        op = "fc"
    else:
        # [..., M, k] output: M rows; a 1-D operand drops its dimension from the output
        p = int(y_shape[-2]) if len(y_shape) >= 2 and k > 1 else (int(y_shape[-1]) if y_shape and k == 1 else 1)
        n = max(rows // p, 1)
        op = "matmul"
    return {"name": name, "op": op, "N": n, "C": int(c), "K": int(k), "R": 1, "S": 1, "P": p, "Q": 1,
            "stride": [1, 1], "padding": [0, 0], "groups": 1}


def _build_model(layers: list[dict[str, Any]], name: str, source: str, variant: str, reference: str,
                 input_desc: str, description: str) -> Model:
    if not layers:
        raise InputError(source, "", "no compute layers found (expected Conv, Gemm/MatMul or Linear operators)")
    data = {
        "name": name,
        "description": description,
        "source": {"variant": variant, "reference": reference, "input": input_desc},
        "layers": layers,
    }
    model = validate_as(Model, data, Path(source))
    check_model_graph(model, Path(source))
    return model


# --------------------------------------------------------------------------- #
# ONNX

_ONNX_UNSUPPORTED = {
    "ConvTranspose": "transposed convolution",
    "ConvInteger": "integer convolution",
    "QLinearConv": "quantized convolution",
    "MatMulInteger": "integer matrix product",
    "QLinearMatMul": "quantized matrix product",
    "LSTM": "recurrent cell", "GRU": "recurrent cell", "RNN": "recurrent cell",
    "Einsum": "einsum",
    "DeformConv": "deformable convolution",
    "If": "control flow", "Loop": "control flow", "Scan": "control flow",
}
_ONNX_SHAPE_ONLY = {"Shape", "Size"}


def _load_onnx(path: Path, label: str):
    import onnx  # noqa: PLC0415

    if not path.exists():
        raise InputError(label, "", "file not found")
    if path.is_dir():
        raise InputError(label, "", "is a directory, expected an ONNX file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # DecodeError, OSError, ...
        raise InputError(label, "", f"not an ONNX model ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not model.HasField("graph") or len(model.graph.node) == 0:
        raise InputError(label, "", "not an ONNX model, or an ONNX model with an empty graph")
    return model


def _onnx_dims(vi) -> list[int] | None:
    t = vi.type.tensor_type
    if not vi.type.HasField("tensor_type") or not t.HasField("shape"):
        return None
    dims = []
    for d in t.shape.dim:
        if not d.HasField("dim_value") or d.dim_value <= 0:
            return None
        dims.append(int(d.dim_value))
    return dims


def _fix_onnx_inputs(model, input_shape: tuple[int, ...] | None, label: str) -> list[str]:
    """Give every real graph input a concrete shape; return their names."""
    inits = {i.name for i in model.graph.initializer}
    inputs = [vi for vi in model.graph.input if vi.name not in inits]
    if not inputs:
        raise InputError(label, "graph.input", "the model has no input")
    if input_shape is not None and len(inputs) != 1:
        raise InputError("--input", "", f"{label} has {len(inputs)} inputs; --input applies to single-input models")
    if input_shape is not None:
        # shapes recorded for the declared input size would contradict the new one
        del model.graph.value_info[:]
        for vi in model.graph.output:
            vi.type.tensor_type.ClearField("shape")
    for vi in inputs:
        shape = vi.type.tensor_type.shape
        if input_shape is not None:
            want = (1, *input_shape)
            if len(shape.dim) and len(shape.dim) != len(want):
                raise InputError("--input", "", f"{label} input '{vi.name}' has rank {len(shape.dim)}, "
                                 f"--input gives rank {len(want)} (with batch 1)")
            del shape.dim[:]
            for d in want:
                shape.dim.add().dim_value = d
            continue
        if not vi.type.tensor_type.HasField("shape") or not len(shape.dim):
            raise InputError(label, f"graph.input '{vi.name}'", "the input has no declared shape; pass --input CxHxW")
        for i, d in enumerate(shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                continue
            if i == 0:
                d.Clear()
                d.dim_value = 1
            else:
                sym = d.dim_param or "?"
                raise InputError(label, f"graph.input '{vi.name}'",
                                 f"dimension {i} is not fixed ('{sym}'); pass --input CxHxW")
    return [vi.name for vi in inputs]


def _onnx_shapes(model, input_names: list[str], label: str) -> dict[str, list[int]]:
    """Static shape of every tensor: ONNX shape inference, else one run of the reference evaluator."""
    import numpy as np  # noqa: PLC0415
    import onnx  # noqa: PLC0415

    shapes: dict[str, list[int]] = {}
    for init in model.graph.initializer:
        shapes[init.name] = [int(d) for d in init.dims]
    for node in model.graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for a in node.attribute:
                if a.name == "value":
                    shapes[node.output[0]] = [int(d) for d in a.t.dims]
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
        vis = list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output)
    except Exception:  # noqa: BLE001 - fall back to running below
        vis = list(model.graph.input)
    for vi in vis:
        dims = _onnx_dims(vi)
        if dims is not None:
            shapes.setdefault(vi.name, dims)
    needed = set()
    for node in model.graph.node:
        if node.op_type in ("Conv", "Gemm", "MatMul"):
            needed.update(x for x in node.input if x)
            needed.add(node.output[0])
    if needed <= set(shapes):
        return shapes
    # Shape inference left some compute tensors unknown (e.g. a Reshape whose target
    # shape is computed at run time): run the graph once on zeros and read every shape.
    try:
        from onnx.reference import ReferenceEvaluator  # noqa: PLC0415

        types = {1: np.float32, 10: np.float16, 11: np.float64, 6: np.int32, 7: np.int64, 9: np.bool_}
        feeds = {}
        for vi in model.graph.input:
            if vi.name in input_names:
                dims = _onnx_dims(vi)
                feeds[vi.name] = np.zeros(dims, dtype=types.get(vi.type.tensor_type.elem_type, np.float32))
        ev = ReferenceEvaluator(model)
        results = ev.run(None, feeds, intermediate=True)
        for name, value in results.items():
            if hasattr(value, "shape"):
                shapes[name] = [int(d) for d in np.shape(value)]
    except Exception as exc:  # noqa: BLE001
        missing = sorted(needed - set(shapes))[:3]
        raise InputError(label, "", f"cannot determine tensor shapes: shape inference left {missing} unknown and "
                         f"running the model failed ({type(exc).__name__}: {str(exc)[:200]})") from None
    return shapes


def _onnx_scope_name(node, index: int) -> str:
    """Module path from a TorchScript-exported node name (``/layer1/layer1.0/conv1/Conv``)."""
    raw = node.name or ""
    if "/" in raw:
        comps = [c for c in raw.split("/") if c]
        if comps and re.fullmatch(re.escape(node.op_type) + r"(_\d+)?", comps[-1]):
            comps = comps[:-1]
        path = ""
        for c in comps:
            path = c if (not path or c.startswith(path + ".")) else f"{path}.{c}"
        if path:
            return path
    return raw or f"{node.op_type.lower()}_{index}"


def _topo_sort_onnx(nodes, produced_outside: set[str]):
    """Nodes in a topological order (ONNX requires it, but be forgiving); stable."""
    producer = {}
    for i, n in enumerate(nodes):
        for o in n.output:
            if o:
                producer[o] = i
    done: set[int] = set()
    order: list[int] = []
    state: dict[int, int] = {}
    for start in range(len(nodes)):
        if start in done:
            continue
        stack = [(start, 0)]
        while stack:
            i, k = stack[-1]
            ins = [producer[x] for x in nodes[i].input if x in producer and x not in produced_outside]
            if k < len(ins):
                stack[-1] = (i, k + 1)
                j = ins[k]
                if j in done:
                    continue
                if state.get(j) == 1:
                    raise ValueError(f"cycle through node '{nodes[j].name or nodes[j].op_type}'")
                state[j] = 1
                stack.append((j, 0))
            else:
                stack.pop()
                if i not in done:
                    done.add(i)
                    order.append(i)
    return [nodes[i] for i in order]


def _onnx_attrs(node) -> dict[str, Any]:
    import onnx  # noqa: PLC0415

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _onnx_ops(model, input_shape: tuple[int, ...] | None, label: str) -> tuple[list[_Op], str]:
    """Classify the nodes of an ONNX graph; also return the input shape used, as ``1x3x224x224``."""
    import onnx  # noqa: PLC0415

    if len(model.functions):
        try:
            model = onnx.inliner.inline_local_functions(model)
        except Exception as exc:  # noqa: BLE001
            raise InputError(label, "functions", f"cannot inline local functions: {exc}") from None
    input_names = _fix_onnx_inputs(model, input_shape, label)
    shapes = _onnx_shapes(model, input_names, label)
    input_desc = ", ".join("x".join(str(d) for d in shapes.get(n, [])) for n in input_names)
    g = model.graph
    static = {i.name for i in g.initializer}  # tensors that do not depend on the model input
    try:
        nodes = _topo_sort_onnx(list(g.node), static | set(input_names))
    except ValueError as exc:
        raise InputError(label, "graph.node", str(exc)) from None
    producer: dict[str, str] = {}
    namer = _Namer()
    ops: list[_Op] = []
    for idx, node in enumerate(nodes):
        key = f"n{idx}"
        for o in node.output:
            if o:
                producer[o] = key
        ins = [x for x in node.input if x]
        if node.op_type in _ONNX_SHAPE_ONLY or node.op_type == "Constant" or all(x in static for x in ins):
            static.update(o for o in node.output if o)
            ops.append(_Op(key, [], None, shape_only=True))
            continue
        if node.op_type in _ONNX_UNSUPPORTED and node.domain in ("", "ai.onnx"):
            raise InputError(label, f"node '{node.name or node.op_type}'",
                             f"{node.op_type} ({_ONNX_UNSUPPORTED[node.op_type]}) is not supported by the layer schema")
        layer = None
        where = f"node '{node.name or node.op_type}'"
        if node.op_type in ("Conv", "Gemm", "MatMul") and node.domain in ("", "ai.onnx"):
            missing = [x for x in [*ins, node.output[0]] if x not in shapes]
            if missing:
                raise InputError(label, where, f"shape of tensor '{missing[0]}' is unknown")
            a = _onnx_attrs(node)
            name = namer(_onnx_scope_name(node, idx))
            y = shapes[node.output[0]]
            if node.op_type == "Conv":
                x, w = shapes[ins[0]], shapes[ins[1]]
                nd = len(x) - 2
                stride = list(a.get("strides", [1] * nd))
                dil = list(a.get("dilations", [1] * nd))
                auto = a.get("auto_pad", b"NOTSET")
                auto = auto.decode() if isinstance(auto, bytes) else str(auto)
                if auto in ("SAME_UPPER", "SAME_LOWER"):
                    pads = []
                    for d in range(nd):
                        total = max((y[2 + d] - 1) * stride[d] + (w[2 + d] - 1) * dil[d] + 1 - x[2 + d], 0)
                        pads.append(total // 2 if auto == "SAME_UPPER" else total - total // 2)
                elif auto == "VALID":
                    pads = [0] * nd
                else:
                    pads = list(a.get("pads", [0] * (2 * nd)))[:nd]
                layer = _conv_fields(name, x, w, y, stride, pads, dil, int(a.get("group", 1)), label)
            elif node.op_type == "Gemm":
                sa, sb = shapes[ins[0]], shapes[ins[1]]
                c = sa[0] if a.get("transA", 0) else sa[-1]
                k = sb[0] if a.get("transB", 0) else sb[-1]
                layer = _product_fields(name, y, c, k, weight=ins[1] in static or ins[0] in static)
            else:  # MatMul
                sa, sb = shapes[ins[0]], shapes[ins[1]]
                a_static, b_static = ins[0] in static, ins[1] in static
                if a_static and not b_static:
                    # W @ x: the weight's rows are the outputs; x's columns are the rows.
                    k = sa[-2] if len(sa) >= 2 else 1
                    layer = _product_fields(name, y, sa[-1], k, weight=True)
                    if len(y) >= 2:
                        layer["N"], layer["P"] = 1, _prod(y) // k
                else:
                    k = sb[-1] if len(sb) >= 2 else 1
                    layer = _product_fields(name, y, sa[-1], k, weight=b_static)
        ops.append(_Op(key, [producer[x] for x in ins if x in producer], layer))
    return ops, input_desc


def register_onnx(path: str | Path, name: str, input_shape: tuple[int, ...] | None = None, *,
                  variant: str | None = None, reference: str | None = None, description: str = "") -> Model:
    """Register an ONNX file as a :class:`Model`.

    ``input_shape`` (C, H, W without batch) overrides the file's declared
    input shape; without it, a symbolic batch dimension is taken as 1 and any
    other symbolic dimension is an error.
    """
    path = Path(path)
    label = str(path)
    model = _load_onnx(path, label)
    ops, input_desc = _onnx_ops(model, input_shape, label)
    layers = _fold(ops)
    return _build_model(layers, name, label, variant or f"ONNX file {path.name}", reference or label,
                        input_desc, description)


# --------------------------------------------------------------------------- #
# PyTorch


def _import_factory(source: str):
    """Import ``package.module:function`` and return the callable."""
    mod_name, _, fn_name = source.partition(":")
    if not mod_name or not fn_name or not re.fullmatch(r"[A-Za-z_][\w.]*", mod_name) \
            or not re.fullmatch(r"[A-Za-z_][\w.]*", fn_name):
        raise InputError(source, "", "expected a PyTorch factory as package.module:function")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        if mod_name.split(".")[0] == "torchvision":
            from .torchvision_compat import import_torchvision  # noqa: PLC0415

            import_torchvision()
        try:
            module = importlib.import_module(mod_name)
        except RuntimeError as exc:
            if "torchvision::" not in str(exc):
                raise
            from .torchvision_compat import import_torchvision  # noqa: PLC0415

            import_torchvision()
            module = importlib.import_module(mod_name)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's module
        raise InputError(source, "", f"cannot import module '{mod_name}' ({type(exc).__name__}: {exc})") from None
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)
    obj: Any = module
    for part in fn_name.split("."):
        if not hasattr(obj, part):
            raise InputError(source, "", f"module '{mod_name}' has no attribute '{fn_name}'")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InputError(source, "", f"'{fn_name}' in module '{mod_name}' is not callable")
    return obj


def _fx_arg(node, index: int, key: str, default: Any) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(key, default)


def _pair(v: Any, nd: int) -> list[int]:
    if isinstance(v, int):
        return [v] * nd
    return [int(x) for x in v]


def _torch_padding(padding: Any, kernel: Sequence[int], dilation: Sequence[int]) -> list[int]:
    if isinstance(padding, str):
        if padding == "valid":
            return [0] * len(kernel)
        # 'same': torch puts total // 2 on the leading side
        return [(d * (k - 1)) // 2 for k, d in zip(kernel, dilation)]
    return _pair(padding, len(kernel))


def _fx_shape(node) -> list[int] | None:
    tm = node.meta.get("tensor_meta") if hasattr(node, "meta") else None
    if tm is None or not hasattr(tm, "shape"):
        return None
    return [int(d) for d in tm.shape]


def _fx_has_tensor(node) -> bool:
    tm = node.meta.get("tensor_meta")
    if tm is None:
        return False
    if hasattr(tm, "shape"):
        return True
    if isinstance(tm, (tuple, list, dict)):
        vals = tm.values() if isinstance(tm, dict) else tm
        return any(hasattr(v, "shape") or isinstance(v, (tuple, list)) for v in vals)
    return False


class _FxUnsupported(Exception):
    """The fx route cannot describe this model; the ONNX route is tried instead."""


def _fx_ops(model, example, source: str) -> list[_Op]:
    import torch  # noqa: PLC0415
    import torch.nn.functional as F  # noqa: PLC0415
    from torch import fx, nn  # noqa: PLC0415
    from torch.fx.passes.shape_prop import ShapeProp  # noqa: PLC0415

    try:
        gm = fx.symbolic_trace(model)
        # ShapeProp prints the traceback of a failing node itself; the reason is reported below instead.
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            ShapeProp(gm).propagate(example)
    except Exception as exc:  # noqa: BLE001
        raise _FxUnsupported(f"torch.fx cannot trace it ({type(exc).__name__}: {str(exc)[:200]})") from None

    unsupported_modules = (nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.RNNBase,
                           nn.MultiheadAttention, nn.Bilinear, nn.Transformer, nn.TransformerEncoder,
                           nn.TransformerDecoder, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)
    conv_fns = {F.conv1d: 1, F.conv2d: 2, torch.conv1d: 1, torch.conv2d: 2}
    linear_fns = {F.linear, torch._C._nn.linear}
    matmul_fns = {torch.matmul, torch.mm, torch.bmm, operator.matmul}
    unsupported_fns = {F.conv3d, F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d, torch.einsum,
                       F.bilinear, F.multi_head_attention_forward, torch.baddbmm, torch.addmm, torch.addbmm}
    matmul_methods = {"matmul", "mm", "bmm", "__matmul__"}

    namer = _Namer()
    static: set[str] = set()
    ops: list[_Op] = []

    def data_inputs(node) -> list[str]:
        return [a.name for a in node.all_input_nodes]

    for node in gm.graph.nodes:
        key = node.name
        if node.op == "placeholder":
            ops.append(_Op(key))
            continue
        if node.op == "get_attr":
            static.add(key)
            ops.append(_Op(key, [], None, shape_only=True))
            continue
        if node.op == "output":
            continue
        ins = data_inputs(node)
        if not _fx_has_tensor(node) or all(i in static for i in ins):
            # shape data (x.size(), x.shape), or a computation on constants/parameters alone
            static.add(key)
            ops.append(_Op(key, [], None, shape_only=True))
            continue
        layer = None
        if node.op == "call_module":
            mod = gm.get_submodule(node.target)
            if isinstance(mod, unsupported_modules):
                raise _FxUnsupported(f"module '{node.target}' ({type(mod).__name__})")
            if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
                nd = 1 if isinstance(mod, nn.Conv1d) else 2
                x = _fx_shape(node.args[0])
                w = list(mod.weight.shape)
                pad = _torch_padding(mod.padding, w[2:], _pair(mod.dilation, nd))
                layer = _conv_fields(namer(node.target), x, w, _fx_shape(node), _pair(mod.stride, nd), pad,
                                     _pair(mod.dilation, nd), mod.groups, source)
            elif isinstance(mod, nn.Linear):
                layer = _product_fields(namer(node.target), _fx_shape(node), mod.in_features, mod.out_features,
                                        weight=True)
        elif node.op == "call_function":
            fn = node.target
            if fn in unsupported_fns:
                raise _FxUnsupported(f"function {getattr(fn, '__name__', fn)}")
            if fn in conv_fns:
                nd = conv_fns[fn]
                xn, wn = _fx_arg(node, 0, "input", None), _fx_arg(node, 1, "weight", None)
                w = _fx_shape(wn)
                dil = _pair(_fx_arg(node, 5, "dilation", 1), nd)
                pad = _torch_padding(_fx_arg(node, 4, "padding", 0), w[2:], dil)
                layer = _conv_fields(namer(node.name), _fx_shape(xn), w, _fx_shape(node),
                                     _pair(_fx_arg(node, 3, "stride", 1), nd), pad, dil,
                                     int(_fx_arg(node, 6, "groups", 1)), source)
            elif fn in linear_fns:
                wn = _fx_arg(node, 1, "weight", None)
                w = _fx_shape(wn)
                layer = _product_fields(namer(node.name), _fx_shape(node), w[-1], w[0] if len(w) == 2 else 1,
                                        weight=wn.name in static)
            elif fn in matmul_fns:
                layer = _fx_matmul(node, namer, static)
        elif node.op == "call_method" and node.target in matmul_methods:
            layer = _fx_matmul(node, namer, static)
        ops.append(_Op(key, ins, layer))
    return ops


def _fx_matmul(node, namer: _Namer, static: set[str]) -> dict[str, Any]:
    a, b = node.args[0], node.args[1]
    sa, sb, y = _fx_shape(a), _fx_shape(b), _fx_shape(node)
    a_static, b_static = a.name in static, b.name in static
    if a_static and not b_static:
        k = sa[-2] if len(sa) >= 2 else 1
        layer = _product_fields(namer(node.name), y, sa[-1], k, weight=True)
        layer["N"], layer["P"] = 1, max(_prod(y) // k, 1)
        return layer
    k = sb[-1] if len(sb) >= 2 else 1
    return _product_fields(namer(node.name), y, sa[-1], k, weight=b_static)


def _onnx_export_bytes(model, example, source: str) -> bytes:
    import torch  # noqa: PLC0415

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), buf, dynamo=False, do_constant_folding=True)
    return buf.getvalue()


def register_pytorch(source: str, name: str, input_shape: tuple[int, ...] | None = None, *,
                     variant: str | None = None, reference: str | None = None, description: str = "") -> Model:
    """Register a PyTorch factory ``package.module:function`` (called with no arguments).

    The module runs in eval mode on a zero input of shape (1, *input_shape)
    (default 3x224x224). Traced with torch.fx; if fx cannot trace it, it is
    exported to ONNX in memory and registered through the ONNX path.
    """
    import torch  # noqa: PLC0415

    input_shape = tuple(input_shape) if input_shape is not None else DEFAULT_INPUT
    factory = _import_factory(source)
    try:
        model = factory()
    except Exception as exc:  # noqa: BLE001
        raise InputError(source, "", f"calling the factory failed ({type(exc).__name__}: {exc})") from None
    if not isinstance(model, torch.nn.Module):
        raise InputError(source, "", f"the factory returned {type(model).__name__}, expected a torch.nn.Module")
    model.eval()
    example = torch.zeros((1, *input_shape))
    shape_txt = "x".join(str(d) for d in (1, *input_shape))

    def run_once() -> None:
        try:
            with torch.no_grad():
                model(example)
        except Exception as exc:  # noqa: BLE001
            raise InputError(source, "--input", f"running the model on a {shape_txt} input failed "
                             f"({type(exc).__name__}: {str(exc)[:300]})") from None

    from torch.nn.modules.lazy import LazyModuleMixin  # noqa: PLC0415

    if any(isinstance(m, LazyModuleMixin) for m in model.modules()):
        run_once()  # materialise lazy parameters before tracing
    try:
        ops = _fx_ops(model, example, source)
    except _FxUnsupported as fx_reason:
        run_once()  # a bad --input is the user's error, not a tracing limitation
        try:
            data = _onnx_export_bytes(model, example, source)
        except Exception as exc:  # noqa: BLE001
            raise InputError(source, "", f"cannot read the model graph: {fx_reason}; ONNX export failed too "
                             f"({type(exc).__name__}: {str(exc)[:200]})") from None
        import onnx  # noqa: PLC0415

        ops, _ = _onnx_ops(onnx.load_from_string(data), input_shape, source)
    layers = _fold(ops)
    return _build_model(layers, name, source, variant or f"PyTorch {source}", reference or source, shape_txt,
                        description)


# --------------------------------------------------------------------------- #
# Entry point


def is_onnx_source(source: str) -> bool:
    """True if ``source`` names a file (or a path ending in .onnx) rather than a factory."""
    p = Path(source)
    return p.suffix.lower() == ".onnx" or p.exists() or ("/" in source or os.sep in source) and ":" not in source


def register_model(source: str, name: str, input_shape: tuple[int, ...] | None = None, *,
                   variant: str | None = None, reference: str | None = None, description: str = "") -> Model:
    """Register ``source`` (an ONNX file or a ``package.module:function`` factory) as model ``name``.

    ``input_shape`` is (C, H, W) without the batch dimension. For a factory it
    defaults to 3x224x224; for an ONNX file, to the file's declared shape.
    ``variant``, ``reference`` and ``description`` go into the model's
    ``source``/``description`` fields. Raises InputError naming the source.
    """
    check_model_name(name)
    if is_onnx_source(source):
        return register_onnx(source, name, input_shape, variant=variant, reference=reference,
                             description=description)
    if ":" in source:
        return register_pytorch(source, name, input_shape, variant=variant, reference=reference,
                                description=description)
    raise InputError(source, "", "expected an ONNX file (.onnx) or a PyTorch factory package.module:function")
