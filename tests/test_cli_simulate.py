"""``relmas simulate`` / ``evaluate`` with plug-in schedulers and workload files: one-line errors, exit 2.

The scenario (configuration and costs) is a synthetic one, so these tests need no characterisation table.
"""
from __future__ import annotations

import json
from pathlib import Path

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
register_scheduler("test-bad-sa", type("BadSA", (_Broken,), {}), overwrite=True)  # no name: the registered one


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


# --------------------------------------------------------------------------- #
# plug-in discovery


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """A plug-in package beside ``baselines``: one good module, one with a missing dependency, one that
    registers an existing name, and a private one (skipped). The registry is restored afterwards."""
    import sys
    import uuid

    import relmas.scheduler as S

    S.available_schedulers()  # every shipped scheduler registered before the copy
    pkg = f"plugtest_{uuid.uuid4().hex[:8]}"
    d = tmp_path / pkg
    d.mkdir()
    (d / "__init__.py").write_text("")
    head = "from relmas.scheduler import register_scheduler\nfrom baselines.fcfs import FCFSH\n"
    (d / "good.py").write_text(head + "class Good(FCFSH):\n    name = 'test-good'\n"
                               "register_scheduler('test-good', Good)\n")
    (d / "broken.py").write_text("import not_installed_dep_xyz\n")
    (d / "dup.py").write_text(head + "class Dup(FCFSH):\n    pass\nregister_scheduler('fcfs-h', Dup)\n")
    (d / "_private.py").write_text("raise RuntimeError('private modules are not imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(S, "PLUGIN_PACKAGES", [*S.PLUGIN_PACKAGES, pkg])
    monkeypatch.setattr(S, "_REGISTRY", dict(S._REGISTRY))
    monkeypatch.setattr(S, "_CONFLICTS", {}, raising=False)  # raising=False: fails on behaviour without the fix
    monkeypatch.setattr(S, "_PLUGIN_ERRORS", {}, raising=False)
    monkeypatch.setattr(S, "_discovered", False)
    monkeypatch.setattr(cli_simulate, "_WARNED", set(), raising=False)
    yield pkg
    for m in [m for m in sys.modules if m.startswith(pkg)]:
        sys.modules.pop(m)


def test_a_broken_or_clashing_plugin_leaves_the_others_usable(plugins, relmas_main, tmp_path, capsys):
    import relmas.scheduler as S

    assert S.get_scheduler("test-good").name == "test-good"
    assert S.get_scheduler("edf-h").name == "edf-h"
    # the workflow's evaluation jobs depend on these files
    assert {Path(p).name for p in S.scheduler_sources("test-good")} == {"fcfs.py", "sa_heuristic.py", "good.py"}
    assert S.scheduler_sources("magma") == ["baselines/edf.py", "baselines/ga_ops.py", "baselines/magma.py",
                                            "baselines/prema.py", "baselines/sa_heuristic.py"]
    errors = S.plugin_errors()
    assert set(errors) == {f"{plugins}.broken"}
    assert "ModuleNotFoundError" in errors[f"{plugins}.broken"] and "not_installed_dep_xyz" in errors[f"{plugins}.broken"]
    with pytest.raises(ValueError, match=rf"'fcfs-h' is registered by two modules: baselines.fcfs and {plugins}.dup"):
        S.get_scheduler("fcfs-h")
    with pytest.raises(KeyError) as e:
        S.get_scheduler("sjf-h")
    assert f"{plugins}.broken (ModuleNotFoundError" in e.value.args[0]
    # the CLI: one warning line for the broken module, then the run
    out = tmp_path / "run.json"
    assert relmas_main(["simulate", "--workload", "light", "--scheduler", "edf-h", "-o", str(out)]) == 0
    lines = _err_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith(f"relmas: warning: plug-in module {plugins}.broken failed")
    assert relmas_main(["simulate", "--workload", "light", "--scheduler", "fcfs-h", "-o", str(out)]) == 2
    lines = _err_lines(capsys)
    assert lines == [f"relmas: error: --scheduler: scheduler 'fcfs-h' is registered by two modules: baselines.fcfs "
                     f"and {plugins}.dup (rename one)"]
    assert relmas_main(["simulate", "--workload", "light", "--scheduler", "sjf-h", "-o", str(out)]) == 2
    lines = _err_lines(capsys)
    assert len(lines) == 1 and "unknown scheduler 'sjf-h'" in lines[0] and f"{plugins}.broken (" in lines[0]


def test_register_outside_discovery_names_both_modules():
    from relmas.scheduler import register_scheduler

    class Other(Scheduler):
        pass

    with pytest.raises(ValueError, match=r"'edf-h' is already registered by baselines.edf; test_cli_simulate "
                                         r"registers it again"):
        register_scheduler("edf-h", Other)


class _Picky(Scheduler):
    name = "test-picky"

    def __init__(self, window: int = 3):
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = window

    def schedule(self, rq):
        return -rq.deadline, np.zeros(rq.size, np.int64)


register_scheduler("test-picky", _Picky, overwrite=True)


@pytest.mark.parametrize("argv, where", [
    (["--param", "windw=2"], "relmas: error: --param: scheduler 'test-picky' does not take these parameters: "
                             "got an unexpected keyword argument 'windw'"),
    (["--param", "window=0"], "relmas: error: scheduler 'test-picky': cannot be built with window=0: ValueError: "
                              "window must be >= 1, got 0"),
    ([], None),
])
def test_constructor_errors_blame_param_only_when_at_fault(relmas_main, tmp_path, capsys, monkeypatch, argv, where):
    out = tmp_path / "run.json"
    rc = relmas_main(["simulate", "--workload", "light", "--scheduler", "test-picky", "-o", str(out), *argv])
    if where is None:
        assert rc == 0
        # a bad value in the configuration's schedulers section is not blamed on --param
        monkeypatch.setitem(CFG, "schedulers", {"test-picky": {"window": -1, "span": 2}})
        capsys.readouterr()
        assert relmas_main(["simulate", "--workload", "light", "--scheduler", "test-picky", "-o", str(out)]) == 2
        assert _err_lines(capsys) == ["relmas: error: test-config.yaml: schedulers.test-picky: scheduler 'test-picky' "
                                      "does not take these parameters: got an unexpected keyword argument 'span'"]
        monkeypatch.setitem(CFG, "schedulers", {"test-picky": {"window": -1}})
        assert relmas_main(["simulate", "--workload", "light", "--scheduler", "test-picky", "-o", str(out)]) == 2
        line, = _err_lines(capsys)
        assert "--param" not in line and "cannot be built with window=-1: ValueError" in line
        return
    assert rc == 2
    assert _err_lines(capsys) == [where]
    assert not out.exists()


# --------------------------------------------------------------------------- #
# workload files


def test_workload_file_keeps_its_set_period_and_qos(relmas_main, tmp_path, capsys):
    wf = tmp_path / "wh.yaml"
    assert relmas_main(["workload", "--workload", "heavy", "--qos", "high", "--seed", "3", "-o", str(wf)]) == 0
    out = tmp_path / "run.json"
    assert relmas_main(["simulate", "--workload", str(wf), "--scheduler", "edf-h", "-o", str(out)]) == 0
    meta = json.loads(out.read_text())["meta"]
    assert meta["period_cycles"] == 50000.0  # heavy's period, not the 100,000-cycle fallback
    assert meta["qos"] == "high" and meta["workload_meta"]["qos"] == "high" and meta["workload_meta"]["name"] == "heavy"
    assert relmas_main(["simulate", "--workload", str(wf), "--scheduler", "edf-h", "--qos", "high", "--period", "7000",
                        "-o", str(out)]) == 0
    assert json.loads(out.read_text())["meta"]["period_cycles"] == 7000.0
    out.unlink()
    capsys.readouterr()
    for flag, field in ((["--qos", "medium"], "meta.qos"), (["--jobs", "5"], "jobs")):
        assert relmas_main(["simulate", "--workload", str(wf), "--scheduler", "edf-h", *flag, "-o", str(out)]) == 2
        line, = _err_lines(capsys)
        assert line.startswith(f"relmas: error: {wf}: {field}: ") and flag[1] in line
        assert not out.exists()
    # evaluate labels the rows with the file's QoS and uses heavy's period
    import pandas as pd

    csv = tmp_path / "ev.csv"
    assert relmas_main(["evaluate", "--workload", str(wf), "--schedulers", "edf-h", "--seeds", "1", "2", "--quiet",
                        "-o", str(csv)]) == 0
    df = pd.read_csv(csv)
    assert df["qos"].tolist() == ["high", "high"] and df["period_cycles"].tolist() == [50000.0, 50000.0]
    capsys.readouterr()
    csv.unlink()
    assert relmas_main(["evaluate", "--workload", str(wf), "--qos", "low", "--schedulers", "edf-h", "--seeds", "1",
                        "--quiet", "-o", str(csv)]) == 2
    assert _err_lines(capsys)[-1].startswith(f"relmas: error: {wf}: meta.qos: ")
    assert not csv.exists()


def test_hand_written_workload_file(relmas_main, tmp_path):
    wf = tmp_path / "w.yaml"
    wf.write_text("jobs:\n  - {model: m0, arrival: 0, deadline: 90000}\n  - {model: m1, arrival: 10, deadline: 90000}\n")
    out = tmp_path / "run.json"
    assert relmas_main(["simulate", "--workload", str(wf), "--scheduler", "fcfs-h", "--qos", "low",
                        "-o", str(out)]) == 0
    meta = json.loads(out.read_text())["meta"]
    assert meta["qos"] == "low" and meta["period_cycles"] == 100000.0  # no set recorded: the fallback period
    assert relmas_main(["simulate", "--workload", str(wf), "--scheduler", "fcfs-h", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["meta"]["qos"] is None
