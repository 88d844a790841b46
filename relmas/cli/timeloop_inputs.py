"""``relmas timeloop-inputs``: Timeloop v3 / Accelergy v0.3 input files for SA classes and layers.

Writes, under ``-o`` (default ``outputs/timeloop``)::

    arch/<class>/arch.yaml                   architecture (Accelergy v0.3 tree)
    arch/<class>/components/relmas_storage.yaml  compound storage classes it uses
    arch/<class>/constraints.yaml            dataflow constraints
    arch/<class>/mapper.yaml                 mapper settings (the timeloop backend's defaults)
    arch/<class>/stall_free/arch.yaml        the architecture without a DRAM limit (timeloop-model)
    arch/<class>/ERT.yaml                    only with --energy class
    problems/<model>/<layer>.yaml            one Timeloop problem per layer
    spatial/<class>/<model>/<layer>.yaml     the layer's spatial factors on that class
    README.txt                               the exact timeloop-mapper commands

Every file is written atomically. The files are exactly those the timeloop
backend gives timeloop-mapper (which, with ``--energy accelergy``, calls
accelergy itself), so a run by hand reproduces the backend's result.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from characterize import timeloop_spec as ts
from characterize.backends.base import OBJECTIVES
from characterize.errors import InputError
from characterize.schema import Model, SAClass
from characterize.table import load_classes, load_models
from relmas.cli.common import output_dir
from relmas.io import write_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "timeloop-inputs",
        help="write Timeloop/Accelergy architecture specs per SA class and problem files per layer",
        description="Translate SA classes (arch/*.yaml) into Timeloop v3 / Accelergy v0.3 architecture, "
        "constraint and mapper files, and model layers (layers/*.yaml) into Timeloop problem files, so that "
        "timeloop-mapper can be run by hand on any (class, layer). The exact commands are in README.txt "
        "of the output folder. Timeloop itself is not needed to write the files. See docs/timeloop.md.",
    )
    p.add_argument("-o", "--output", type=output_dir, default=Path("outputs/timeloop"),
                   help="output folder (default: outputs/timeloop)")
    p.add_argument("--arch-dir", type=Path, default=Path("arch"), help="folder of SA class YAML (default: arch)")
    p.add_argument("--layers-dir", type=Path, default=Path("layers"), help="folder of model YAML (default: layers)")
    p.add_argument("--models", nargs="+", metavar="MODEL", help="models to include (default: all in --layers-dir)")
    p.add_argument("--classes", nargs="+", metavar="CLASS", help="SA classes to include (default: all in --arch-dir)")
    p.add_argument("--objective", choices=OBJECTIVES, default="latency",
                   help="mapper objective written into mapper.yaml (default: latency)")
    p.add_argument("--energy", choices=("accelergy", "class"), default="accelergy",
                   help="accelergy: Accelergy estimates the energies (needs accelergy); class: an ERT.yaml "
                   "with the class files' own per-access energies (default: accelergy)")
    p.set_defaults(func=run)


_SAFE = re.compile(r"[^A-Za-z0-9._+-]")


def _file_name(name: str) -> str:
    return _SAFE.sub("_", name) or "_"


def _layer_files(model: Model, path: Path) -> dict[str, str]:
    """Layer name -> file stem, refusing two layers that would share a file."""
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for layer in model.layers:
        stem = _file_name(layer.name)
        if stem in seen:
            raise InputError(path, f"layers ({layer.name})",
                             f"layers '{seen[stem]}' and '{layer.name}' would both be written to {stem}.yaml")
        seen[stem] = layer.name
        out[layer.name] = stem
    return out


def run(args: argparse.Namespace) -> int:
    classes: list[SAClass] = load_classes(args.arch_dir, args.classes)
    models: list[Model] = load_models(args.layers_dir, args.models)
    out: Path = args.output
    settings = ts.MapperSettings()

    arch_files: dict[str, list[Path]] = {}
    for sa in classes:
        try:
            arch_files[sa.name] = ts.write_arch_dir(sa, out / "arch" / sa.name, settings, args.objective, args.energy)
        except ValueError as exc:
            raise InputError(args.arch_dir / f"{sa.name}.yaml", "", str(exc)) from None

    n_problems = n_spatial = 0
    examples: list[tuple[str, str, str]] = []
    for model in models:
        mpath = args.layers_dir / f"{model.name}.yaml"
        stems = _layer_files(model, mpath)
        for layer in model.layers:
            stem = stems[layer.name]
            ts.write_problem(layer, out / "problems" / model.name / f"{stem}.yaml", model.name)
            n_problems += 1
            for sa in classes:
                try:
                    ts.write_spatial_constraints(sa, layer, out / "spatial" / sa.name / model.name / f"{stem}.yaml",
                                                 model.name)
                except ValueError as exc:
                    raise InputError(mpath, f"layers ({layer.name})", str(exc)) from None
                n_spatial += 1
        if model.layers:
            examples.append((model.name, stems[model.layers[0].name], model.layers[0].name))

    write_text(out / "README.txt", _readme(classes, examples, args, settings))
    print(f"wrote {out}/: {len(classes)} SA classes (arch/), {n_problems} problems (problems/), "
          f"{n_spatial} spatial mappings (spatial/); commands in {out / 'README.txt'}")
    return 0


def _readme(classes: list[SAClass], examples: list[tuple[str, str, str]], args: argparse.Namespace,
            settings: ts.MapperSettings) -> str:
    cls = classes[0].name
    model, stem, layer = examples[0] if examples else ("<model>", "<layer>", "<layer>")
    energy_note = (
        "Energies: Accelergy estimates them (Aladdin + CACTI plug-ins, 45 nm); timeloop-mapper calls\n"
        "`accelergy` itself, so it must be on PATH with those plug-ins.\n"
        if args.energy == "accelergy" else
        "Energies: arch/<class>/ERT.yaml holds the class files' own per-access energies; timeloop-mapper\n"
        "uses it and does not call accelergy.\n")
    ert = " ../../../../arch/{c}/ERT.yaml" if args.energy == "class" else ""
    bw = settings.search_dram_bandwidth

    def commands(c: str, m: str, layer_stem: str) -> list[str]:
        out = [
            f"  mkdir -p runs/{c}/{m}/{layer_stem} && cd runs/{c}/{m}/{layer_stem}",
            f"  timeloop-mapper ../../../../arch/{c}/*.yaml ../../../../arch/{c}/components/*.yaml \\",
            f"      ../../../../spatial/{c}/{m}/{layer_stem}.yaml ../../../../problems/{m}/{layer_stem}.yaml",
        ]
        if bw > 0:
            out += [
                f"  timeloop-model ../../../../arch/{c}/stall_free/arch.yaml ../../../../arch/{c}/components/*.yaml"
                + ert.format(c=c) + " \\",
                f"      ../../../../problems/{m}/{layer_stem}.yaml ./timeloop-mapper.map.yaml",
            ]
        return out

    result = ("timeloop-model.stats.txt (Summary Stats: Cycles = the stall-free cycles, Energy)"
              if bw > 0 else "timeloop-mapper.stats.txt (Summary Stats: Cycles, Energy)")
    lines = [
        "Timeloop v3 / Accelergy v0.3 inputs written by `relmas timeloop-inputs` (docs/timeloop.md).",
        "",
        "Layout",
        "  arch/<class>/*.yaml                  arch.yaml, constraints.yaml (dataflow), mapper.yaml"
        + (", ERT.yaml" if args.energy == "class" else ""),
        "  arch/<class>/components/*.yaml       Accelergy compound storage classes used by arch.yaml",
    ]
    if bw > 0:
        lines.append("  arch/<class>/stall_free/arch.yaml    the same architecture without a DRAM bandwidth limit")
    lines += [
        "  problems/<model>/<layer>.yaml        one layer (grouped-convolution shape G C M R S N P Q)",
        "  spatial/<class>/<model>/<layer>.yaml that layer's spatial factors on that class",
        "",
        "Run one layer on one SA class (from this folder; the tools write their timeloop-mapper.* and",
        "timeloop-model.* outputs into the current folder, so use a fresh one per run):",
        "",
        *commands("<class>", "<model>", "<layer>"),
        "",
        "For example:",
        "",
        *commands(cls, model, stem),
        "",
        f"(layer '{layer}' of model '{model}'). The result is in {result};",
        "the chosen mapping in timeloop-mapper.map.txt.",
    ]
    if bw > 0:
        lines += [
            f"The mapper searches with DRAM limited to {bw:g} B/cycle (arch.yaml), so that a mapping that would be",
            "DRAM-bound on the real system does not win; timeloop-model then evaluates that mapping on the",
            "architecture without the limit, which gives the stall-free cycles the toolkit's table holds.",
            "(Write the mapping as ./timeloop-mapper.map.yaml: Timeloop v3 skips an input named exactly",
            "timeloop-mapper.map.yaml.)",
        ]
    lines += [
        "",
        energy_note,
        f"Mapper: objective {args.objective} -> optimization-metrics {ts.OBJECTIVE_METRICS[args.objective]}; "
        f"{settings.algorithm}, {settings.threads} thread(s),",
        f"victory-condition {settings.victory_condition}, timeout {settings.timeout}, search-size "
        f"{settings.search_size}: the timeloop backend's defaults, so these",
        "commands reproduce `relmas characterize --backend timeloop` (same Timeloop build and plug-ins).",
        "Leave out the spatial/ file to let Timeloop search the spatial factors too (slower, see docs).",
        "",
        "SA classes: " + ", ".join(sa.name for sa in classes),
        "Models: " + ", ".join(m for m, _, _ in examples),
        "",
        "Timeloop and Accelergy: Docker image timeloopaccelergy/accelergy-timeloop-infrastructure, or build",
        "from source (https://github.com/NVlabs/timeloop, https://github.com/Accelergy-Project/accelergy).",
        "",
    ]
    return "\n".join(lines)
