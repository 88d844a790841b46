"""``relmas replay TRACE.yaml``: replay one hand-written schedule and print the outcome as JSON."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from relmas.cli.common import output_file
from relmas.io import write_json
from relmas.trace import load_trace, replay


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="replay a fixed schedule from a trace YAML and print start/finish times as JSON",
        description="Replay the schedule of a trace file (bandwidth, accelerators, jobs with layers: cycles and "
        "bandwidth per accelerator, sa, priority, after) as one decision, with dependencies, arrivals, "
        "bandwidth contention and deadline drops, and print "
        '{"layers": [{"job", "layer", "sa", "start", "finish"}], "jobs": [{"job", "finish", "hit"}], '
        '"sla_rate"} on stdout. The format is in docs/simulator.md.',
    )
    p.add_argument("trace", type=Path, metavar="TRACE.yaml")
    p.add_argument("-o", "--output", type=output_file, default=None,
                   help="also write the JSON to this file (atomically)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = replay(load_trace(args.trace))
    text = json.dumps(report, indent=2)
    if args.output is not None:
        write_json(args.output, report)
    sys.stdout.write(text + "\n")
    return 0
