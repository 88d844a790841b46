"""Bad command-line input: one clear line naming the flag (or file and field), exit status 2, no traceback,
nothing written, and found before any long work starts."""
from __future__ import annotations

from pathlib import Path

import pytest

from relmas.cli import main

REPO = Path(__file__).resolve().parents[1]


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """Exit status and stderr of ``relmas ARGV`` (argparse errors exit through SystemExit)."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:
        rc = exc.code
    return rc, capsys.readouterr().err


def assert_clean_error(rc: int, err: str, *words: str) -> None:
    assert rc == 2, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(("relmas", "usage")), err
    for w in words:
        assert w in err, (w, err)


def _commands(out: Path) -> dict[str, list]:
    """A minimal command line of each command whose seed is given by SEED (replaced by the test)."""
    return {
        "simulate": ["simulate", "--workload", "light", "--scheduler", "fcfs-h", "--seed", "SEED", "-o", out / "r.json"],
        "workload": ["workload", "--workload", "light", "--qos", "medium", "--seed", "SEED", "-o", out / "w.yaml"],
        "evaluate": ["evaluate", "--workload", "light", "--schedulers", "fcfs-h", "--seeds", "0", "SEED",
                     "-o", out / "e.csv"],
        "calibrate": ["calibrate", "--workload", "light", "--loads", "0.5", "--seeds", "SEED", "-o", out / "c.csv"],
        "overhead": ["overhead", "--hidden", "64", "--periods", "1e5", "--seeds", "SEED", "-o", out / "o.csv"],
        "bench magma": ["bench", "magma", "--seed", "SEED"],
        "train": ["train", "--workload", "light", "--qos", "medium", "--seed", "SEED", "-o", out / "run"],
    }


@pytest.mark.parametrize("command", list(_commands(Path("x"))))
def test_negative_seed_is_refused_before_anything_is_written(tmp_path, capsys, command):
    out = tmp_path / "out"
    argv = [("-1" if a == "SEED" else a) for a in _commands(out)[command]]
    rc, err = run_cli(argv, capsys)
    assert_clean_error(rc, err, "--seed", "must be >= 0")
    assert not out.exists()


@pytest.mark.parametrize("command", ["evaluate", "calibrate", "overhead"])
def test_a_seed_given_twice_is_refused(tmp_path, capsys, command):
    argv = [("0" if a == "SEED" else a) for a in _commands(tmp_path / "out")[command]]
    if command != "evaluate":  # evaluate's line already holds seed 0 before SEED
        argv[argv.index("--seeds") + 1:argv.index("--seeds") + 2] = ["0", "0"]
    rc, err = run_cli(argv, capsys)
    assert_clean_error(rc, err, "--seeds", "'0' is given twice")
    assert not (tmp_path / "out").exists()
