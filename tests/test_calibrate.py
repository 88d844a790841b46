"""``relmas calibrate``: SLA rate falls as the offered load rises and as deadlines tighten; bad flags fail clearly."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from relmas.cli import main

REPO = Path(__file__).resolve().parents[1]


def _args(table_path: Path, *extra: str) -> list[str]:
    return ["calibrate", "--workload", "light", "--system", str(REPO / "arch/systems/tiny_2sa.yaml"),
            "--table", str(table_path), "--config", str(REPO / "config/config.yaml"),
            "--layers-dir", str(REPO / "layers"), "--seeds", "1", "2", "--jobs", "30", *extra]


def test_sla_falls_with_load_and_tighter_deadlines(analytic_light_table, tmp_path, capsys):
    out = tmp_path / "calib.csv"
    rc = main(_args(analytic_light_table, "--loads", "0.05", "3.0", "--factors", "1.5", "6.0",
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
def test_bad_flags_fail_with_the_flag_named(analytic_light_table, tmp_path, capsys, flags, field):
    out = tmp_path / "never.csv"
    with pytest.raises(SystemExit) as e:  # refused by argparse, before the configuration is read
        main(_args(analytic_light_table, *flags, "-o", str(out)))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {field}" in err and "config" not in err.splitlines()[-1]
    assert not out.exists()
