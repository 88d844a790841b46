"""The ``relmas`` command line.

Each subcommand lives in its own module under ``relmas.cli`` and exposes
``register(subparsers)``; ``relmas bench`` gathers the ``bench_*`` modules.
Errors in user input (:class:`~characterize.errors.InputError`) print one line
naming the file and field, and exit with status 2. A scheduler's invalid decision
is such an error (:class:`~relmas.scheduler.SchedulerError`: the scheduler, the
time, the first bad SJ); when a scheduler raised an exception of its own (a bug
in its code, not bad input), its traceback is printed before that line.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from characterize.errors import BackendUnavailable, InputError

# Subcommand modules, in --help order.
COMMANDS = [
    "validate",
    "models",
    "timeloop_inputs",
    "characterize",
    "workload",
    "simulate",
    "replay",
    "train",
    "evaluate",
    "calibrate",
    "collect",
    "overhead",
    "figures",
    "report",
]
BENCHES: list[str] = [
    "bench_characterize",
    "bench_sim",
    "bench_magma",
    "bench_policy",
]


def build_parser(only: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (``only``: the command line's words) one with just the named subcommand.

    Registering a subcommand imports its module, and some import torch, pandas or
    matplotlib (seconds). A workflow job runs one command, so :func:`main` builds
    the parser of that command alone when the command line names a known one;
    ``relmas --help`` and unknown commands get the full parser.
    """
    commands, benches = COMMANDS, BENCHES
    if only:
        words = [w for w in only if not w.startswith("-")]
        name = words[0].replace("-", "_") if words else ""
        if name in COMMANDS:
            commands, benches = [name], []
        elif name == "bench" and len(words) > 1 and f"bench_{words[1]}" in BENCHES:
            commands, benches = [], [f"bench_{words[1]}"]
    parser = argparse.ArgumentParser(
        prog="relmas",
        description="RELMAS toolkit: characterise DNN layers on heterogeneous sub-accelerators, "
        "simulate multi-tenant online scheduling, train and evaluate schedulers.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in commands:
        importlib.import_module(f"relmas.cli.{name}").register(sub)
    if benches or not only or commands == COMMANDS:
        bench = sub.add_parser("bench", help="measure the speed of one part (characterize, sim, magma, policy)",
                               description="Benchmarks. Each prints a table, or JSON with --json.")
        bsub = bench.add_subparsers(dest="bench", metavar="WHAT", required=True)
        for name in benches:
            importlib.import_module(f"relmas.cli.{name}").register(bsub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except InputError as exc:
        if getattr(exc, "show_cause", False) and exc.__cause__ is not None:  # a scheduler's own exception
            traceback.print_exception(type(exc.__cause__), exc.__cause__, exc.__cause__.__traceback__)
        print(f"relmas: error: {exc}", file=sys.stderr)
        return 2
    except BackendUnavailable as exc:
        print(f"relmas: error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("relmas: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
