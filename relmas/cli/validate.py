"""``relmas validate PATH...``: check arch, system and model YAML files."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from characterize.errors import InputError
from characterize.schema import validate_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check SA class, system and model YAML files",
        description="Check any arch/<class>.yaml, arch/systems/<system>.yaml or layers/<model>.yaml. "
        "Every bad file is reported with the field or layer at fault; the exit status is 2 if any is bad. "
        "Folders are searched for *.yaml.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--arch-dir", type=Path, default=None,
                   help="where SA classes named by systems live (default: the system file's grandparent folder)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    files: list[Path] = []
    for p in args.paths:
        files.extend(sorted(p.rglob("*.yaml")) if p.is_dir() else [p])
    bad = 0
    for f in files:
        try:
            kind = validate_file(f, args.arch_dir)
            print(f"ok    {f} ({kind})")
        except InputError as exc:
            bad += 1
            print(f"error {exc}", file=sys.stderr)
    return 2 if bad else 0
