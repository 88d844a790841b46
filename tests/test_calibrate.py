"""``relmas calibrate``: SLA rate falls as the offered load rises and as deadlines tighten; bad flags fail clearly."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import characterize.table as table
from characterize.backends.base import Backend, LayerCost
from characterize.schema import load_sa_class
from relmas.cli import main

REPO = Path(__file__).resolve().parents[1]


class AnalyticBackend(Backend):
    """Cycles = MACs / peak + 10, DRAM = weights + outputs: a stand-in so the test needs no mapper."""

    name = "analytic"

    @classmethod
    def check_available(cls) -> None:
        pass

    def version(self) -> str:
        return "analytic 1"

    def evaluate(self, sa, layer) -> LayerCost:
        return LayerCost(cycles=layer.macs / sa.peak_macs_per_cycle + 10, energy_pj=layer.macs * 1.5,
                         dram_read_bytes=layer.C * layer.K * 1.0, dram_write_bytes=layer.K * layer.P * layer.Q * 1.0,
                         utilization=0.5)


@pytest.fixture(scope="module")
def light_table(tmp_path_factory) -> Path:
    mp = pytest.MonkeyPatch()
    mp.setattr(table, "get_backend", lambda name, objective="edp", **kw: AnalyticBackend(objective, **kw))
    try:
        tmp = tmp_path_factory.mktemp("calib")
        classes = [load_sa_class(REPO / f"arch/{c}.yaml") for c in ("eyeriss_small", "simba_small")]
        models = table.load_models(REPO / "layers", ["squeezenet", "kws", "yolo_lite"])
        df, _ = table.build_table(models, classes, "analytic", jobs=1, cache_dir=tmp / "cache", progress=False)
        path = tmp / "analytic.csv"
        table.write_table(df, path)
        return path
    finally:
        mp.undo()


def _args(table_path: Path, *extra: str) -> list[str]:
    return ["calibrate", "--workload", "light", "--system", str(REPO / "arch/systems/tiny_2sa.yaml"),
            "--table", str(table_path), "--config", str(REPO / "config/config.yaml"),
            "--layers-dir", str(REPO / "layers"), "--seeds", "1", "2", "--jobs", "30", *extra]


def test_sla_falls_with_load_and_tighter_deadlines(light_table, tmp_path, capsys):
    out = tmp_path / "calib.csv"
    rc = main(_args(light_table, "--loads", "0.05", "3.0", "--factors", "1.5", "6.0",
                    "--schedulers", "fcfs-h", "edf-h", "-o", str(out)))
    assert rc == 0
    df = pd.read_csv(out)
    assert set(df.columns) >= {"workload", "load", "factor", "scheduler", "sla_rate", "offered_load"}
    assert len(df) == 2 * 2 * 2
    piv = df.set_index(["scheduler", "load", "factor"])["sla_rate"]
    for s in ("fcfs-h", "edf-h"):
        for f in (1.5, 6.0):
            assert piv[(s, 0.05, f)] > piv[(s, 3.0, f)]
        assert piv[(s, 3.0, 6.0)] >= piv[(s, 3.0, 1.5)]
    # the realised offered load follows the requested one
    assert df[df.load == 3.0].offered_load.mean() > 10 * df[df.load == 0.05].offered_load.mean()
    assert "light load 0.05 factor 1.5" in capsys.readouterr().out


@pytest.mark.parametrize("flags, field", [(["--loads", "-0.1"], "--loads"), (["--loads", "0.2", "--jobs", "0"], "--jobs"),
                                          (["--loads", "0.2", "--factors", "0"], "--factors"),
                                          (["--loads", "nan"], "--loads"),
                                          (["--loads", "0.2", "--factors", "inf"], "--factors")])
def test_bad_flags_fail_with_the_flag_named(light_table, tmp_path, capsys, flags, field):
    out = tmp_path / "never.csv"
    with pytest.raises(SystemExit) as e:  # refused by argparse, before the configuration is read
        main(_args(light_table, *flags, "-o", str(out)))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {field}" in err and "config" not in err.splitlines()[-1]
    assert not out.exists()
