"""What the deployment probes share: seed ranges, the default scenario, and SLA rates of a scheduler.

Imported by window_decode.py, ensemble.py and read_limit.py (run as ``python scripts/probes/NAME.py``, so
this folder is on ``sys.path``).
"""
from __future__ import annotations

import argparse
from typing import Any

import torch

from relmas.cli.common import scenario
from relmas.cli.simulate import load_or_generate, period_for
from relmas.scheduler import Scheduler
from relmas.sim import Simulator


def parse_seeds(text: str) -> list[int]:
    """``"1005-1014"`` -> [1005, ..., 1014]; ``"1005"`` -> [1005]."""
    a, _, b = text.partition("-")
    return list(range(int(a), int(b or a) + 1))


class ProbeScenario:
    """The default configuration's system and table, one workload set and QoS level, on one torch thread."""

    def __init__(self, workload: str, qos: str):
        torch.set_num_threads(1)  # as the CLI: two threads per probe, two probes at a time, oversubscribe 2 cores
        self.workload, self.qos = workload, qos
        self.cfg, self.costs = scenario(argparse.Namespace(config="config/config.yaml", preset=None, system=None,
                                                           table=None, layers_dir=None))
        self.period = period_for(self.cfg, workload, None)

    def sla_rates(self, sched: Scheduler | Any, seeds: list[int]) -> list[float]:
        """SLA rate of ``sched`` on the workload of each seed."""
        return [Simulator(self.costs, self.period).run(
            load_or_generate(self.workload, self.qos, s, self.cfg, self.costs, None), sched, seed=s).sla_rate
            for s in seeds]
