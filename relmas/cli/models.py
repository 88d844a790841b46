"""``relmas models``: register DNN models as layer tables and list the registered ones."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from characterize.errors import InputError
from characterize.register import check_model_name, parse_input_shape, register_model
from characterize.schema import load_model, model_to_dict
from relmas.io import write_yaml


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``relmas models`` with its ``register`` and ``list`` subcommands."""
    p = sub.add_parser(
        "models",
        help="register a DNN model (ONNX or PyTorch) as layers/<name>.yaml, or list the registered models",
        description="Manage the model zoo in layers/. A model is one YAML file with every compute layer's "
        "shape and predecessors; adding a file (or registering a model) is all it takes to use it.",
    )
    msub = p.add_subparsers(dest="models_command", metavar="SUBCOMMAND", required=True)

    r = msub.add_parser(
        "register",
        help="turn an ONNX file or a PyTorch factory into layers/<NAME>.yaml",
        description="Register a DNN model. SOURCE is an ONNX file (*.onnx) or a PyTorch factory "
        "'package.module:function' called with no arguments that returns an nn.Module "
        "(for example torchvision.models:resnet50 or characterize.zoo:yolo_lite). Every Conv, Gemm/MatMul "
        "and Linear becomes a layer (conv, dwconv, gconv, fc, matmul); every other operator is folded into "
        "the dependency graph. The result is validated by reloading it and written atomically.",
    )
    r.add_argument("source", metavar="SOURCE", help="ONNX file or package.module:function")
    r.add_argument("--name", required=True, help="model name; the file is <layers-dir>/<NAME>.yaml")
    r.add_argument("--input", default=None, metavar="CxHxW",
                   help="input shape without the batch dimension (batch is 1). PyTorch default: 3x224x224; "
                   "ONNX default: the shape declared in the file (a symbolic batch dimension is taken as 1)")
    r.add_argument("--layers-dir", type=Path, default=Path("layers"), help="where model files live (default: layers)")
    r.add_argument("--force", action="store_true", help="overwrite an existing <NAME>.yaml")
    r.add_argument("--variant", default=None,
                   help="source.variant written to the file (default: 'PyTorch SOURCE' or 'ONNX file NAME')")
    r.add_argument("--reference", default=None, help="source.reference written to the file (default: SOURCE)")
    r.add_argument("--description", default="", help="one-line description written to the file")
    r.set_defaults(func=run_register)

    ls = msub.add_parser(
        "list",
        help="print every registered model with its layer count and total MACs",
        description="Load every <layers-dir>/*.yaml and print a table: name, layers (by type), total "
        "multiply-accumulates, input and variant. Invalid files are reported on stderr (exit status 2).",
    )
    ls.add_argument("--layers-dir", type=Path, default=Path("layers"), help="where model files live (default: layers)")
    ls.set_defaults(func=run_list)


def run_register(args: argparse.Namespace) -> int:
    """``relmas models register``: build, validate and write one model file."""
    name = check_model_name(args.name)
    out = Path(args.layers_dir) / f"{name}.yaml"
    if out.exists() and not args.force:
        raise InputError(out, "", "already exists; pass --force to overwrite it")
    shape = parse_input_shape(args.input) if args.input is not None else None
    model = register_model(args.source, name, shape, variant=args.variant, reference=args.reference,
                           description=args.description)
    write_yaml(out, model_to_dict(model))
    reloaded = load_model(out)  # the file on disk must round-trip
    if reloaded.macs != model.macs or len(reloaded.layers) != len(model.layers):
        raise InputError(out, "", "written file does not reload to the registered model")
    print(f"registered {name}: {len(model.layers)} layers, {model.macs:,} MACs -> {out}")
    return 0


def _op_summary(model) -> str:
    counts: dict[str, int] = {}
    for layer in model.layers:
        counts[layer.op] = counts.get(layer.op, 0) + 1
    return ",".join(f"{op}:{n}" for op, n in sorted(counts.items()))


def run_list(args: argparse.Namespace) -> int:
    """``relmas models list``: a table of the models in the layers folder."""
    folder = Path(args.layers_dir)
    if not folder.is_dir():
        raise InputError(folder, "", "folder not found")
    files = sorted(folder.glob("*.yaml"))
    if not files:
        print(f"no models in {folder}/")
        return 0
    rows = []
    bad = 0
    for f in files:
        try:
            m = load_model(f)
        except InputError as exc:
            bad += 1
            print(f"error {exc}", file=sys.stderr)
            continue
        rows.append((m.name, str(len(m.layers)), _op_summary(m), f"{m.macs:,}", f"{m.macs / 1e9:.3f}",
                     m.source.input, m.source.variant))
    header = ("MODEL", "LAYERS", "TYPES", "MACS", "GMACS", "INPUT", "VARIANT")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {1, 3, 4}
    for r in [header, *rows]:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        print("  ".join(cells).rstrip())
    return 2 if bad else 0
