"""``relmas simulate`` / ``evaluate`` with plug-in schedulers and workload files: one-line errors, exit 2.

The scenario (configuration and costs) is a synthetic one, so these tests need no characterisation table.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import relmas.cli as cli
import relmas.cli.evaluate as cli_evaluate
import relmas.cli.simulate as cli_simulate
from relmas.scheduler import Scheduler, register_scheduler
from test_baselines_sim import synthetic_costs

CFG = {
    "preset": "test", "_path": "test-config.yaml",
    "workloads": {
        "light": {"mix": {"m0": 1, "m1": 1}, "jobs": 12, "load": 0.5},
        "heavy": {"mix": {"m1": 1, "m2": 1}, "jobs": 12, "load": 0.9},
    },
    "period_cycles": {"light": 20000, "heavy": 50000},
    "schedulers": {},
}


@pytest.fixture
def relmas_main(monkeypatch):
    """``relmas.cli.main`` on the synthetic scenario, with only simulate, evaluate and workload loaded."""
    costs = synthetic_costs()
    monkeypatch.setattr(cli, "COMMANDS", ["simulate", "evaluate", "workload"])
    monkeypatch.setattr(cli, "BENCHES", [])
    for mod in (cli_simulate, cli_evaluate):
        monkeypatch.setattr(mod, "scenario", lambda args: (CFG, costs))
    import relmas.cli.workload as cli_workload

    monkeypatch.setattr(cli_workload, "scenario", lambda args: (CFG, costs))
    return cli.main


class _Broken(Scheduler):
    def schedule(self, rq):
        if self.name == "test-raises":
            raise RuntimeError("boom inside my scheduler")
        sa = np.zeros(rq.size, np.int64)
        sa[-1] = 9
        return -rq.deadline, sa


register_scheduler("test-raises", type("Raises", (_Broken,), {"name": "test-raises"}), overwrite=True)
register_scheduler("test-bad-sa", type("BadSA", (_Broken,), {"name": "test-bad-sa"}), overwrite=True)


def _err_lines(capsys) -> list[str]:
    return [x for x in capsys.readouterr().err.splitlines() if x.strip()]


def test_invalid_decision_is_one_line_exit_2_no_output(relmas_main, tmp_path, capsys):
    out = tmp_path / "run.json"
    assert relmas_main(["simulate", "--workload", "light", "--scheduler", "test-bad-sa", "-o", str(out)]) == 2
    lines = _err_lines(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith("relmas: error: scheduler 'test-bad-sa': t=")
    assert "is not an SA index in [0, 4)" in lines[0] and "sa[" in lines[0]
    assert not out.exists()
    # evaluate: the same message, and no CSV
    csv = tmp_path / "ev.csv"
    assert relmas_main(["evaluate", "--workload", "light", "--schedulers", "fcfs-h", "test-bad-sa", "--seeds", "1",
                        "--quiet", "-o", str(csv)]) == 2
    assert "scheduler 'test-bad-sa': t=" in _err_lines(capsys)[-1]
    assert not csv.exists()


def test_scheduler_exception_shows_its_traceback_then_one_line(relmas_main, tmp_path, capsys):
    out = tmp_path / "run.json"
    assert relmas_main(["simulate", "--workload", "light", "--scheduler", "test-raises", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and 'raise RuntimeError("boom inside my scheduler")' in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("relmas: error: scheduler 'test-raises': t=")
    assert last.endswith("schedule() raised RuntimeError: boom inside my scheduler")
    assert not out.exists()


def test_valid_plugin_runs(relmas_main, tmp_path, capsys):
    out = tmp_path / "run.json"
    assert relmas_main(["simulate", "--workload", "light", "--scheduler", "edf-h", "-o", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["jobs"] == 12 and d["meta"]["scheduler"] == "edf-h"
