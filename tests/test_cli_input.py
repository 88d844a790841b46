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


# --------------------------------------------------------------------------- #
# Output paths (-o, --label-cache): checked while parsing, before any work


def _output_commands(o: Path) -> dict[str, list]:
    """A command line of each command that writes one file, with its output O. The inputs (--config, ...) do
    not exist: the output is checked first, and without that check the test fails fast on them."""
    cfg = ["--config", "/nonexistent/config.yaml"]
    return {
        "simulate": ["simulate", "--workload", "light", "--scheduler", "fcfs-h", "-o", o, *cfg],
        "workload": ["workload", "--workload", "light", "--qos", "medium", "--seed", "0", "-o", o, *cfg],
        "evaluate": ["evaluate", "--workload", "light", "--schedulers", "fcfs-h", "--seeds", "0", "-o", o, *cfg],
        "calibrate": ["calibrate", "--workload", "light", "--loads", "0.5", "-o", o, *cfg],
        "overhead": ["overhead", "--hidden", "64", "--periods", "1e5", "--seeds", "0", "-o", o, *cfg],
        "collect": ["collect", "-o", o, "/nonexistent/a.csv"],
        "replay": ["replay", "/nonexistent/trace.yaml", "-o", o],
        "characterize": ["characterize", "-o", o, "--arch-dir", "/nonexistent/arch"],
    }


@pytest.mark.parametrize("command", list(_output_commands(Path("x"))))
def test_output_file_that_is_a_folder_is_refused(tmp_path, capsys, command):
    rc, err = run_cli(_output_commands(tmp_path)[command], capsys)
    assert_clean_error(rc, err, "-o/--output", "is a folder")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", list(_output_commands(Path("x"))))
def test_output_file_under_a_file_is_refused(tmp_path, capsys, command):
    (tmp_path / "afile").write_text("")
    rc, err = run_cli(_output_commands(tmp_path / "afile" / "sub" / "x.out")[command], capsys)
    assert_clean_error(rc, err, "-o/--output", f"'{tmp_path / 'afile'}' is a file, not a folder")
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]


@pytest.mark.parametrize("flag", ["-o", "--label-cache"])
def test_train_folders_that_are_files_are_refused(tmp_path, capsys, flag):
    (tmp_path / "afile").write_text("")
    argv = ["train", "--workload", "light", "--qos", "medium", "-o", tmp_path / "run",
            flag, tmp_path / "afile", "--config", "/nonexistent/config.yaml"]
    rc, err = run_cli(argv, capsys)
    assert_clean_error(rc, err, flag, "is a file, not a folder")
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]


def test_timeloop_inputs_folder_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    rc, err = run_cli(["timeloop-inputs", "-o", tmp_path / "afile"], capsys)
    assert_clean_error(rc, err, "-o/--output", "is a file, not a folder")


def test_atomic_writes_name_a_path_that_cannot_be_a_file(tmp_path):
    """The last line of defence (figures and report write through it): an InputError, not an OSError."""
    from characterize.errors import InputError
    from relmas.io import write_text

    with pytest.raises(InputError, match="is a folder"):
        write_text(tmp_path, "x")
    (tmp_path / "afile").write_text("")
    for target in (tmp_path / "afile" / "x.md", tmp_path / "afile" / "sub" / "x.md"):
        with pytest.raises(InputError, match="a file is in the way") as e:
            write_text(target, "x")
        assert e.value.path == str(target)
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]


def test_report_to_a_folder_is_a_clean_error(tmp_path, capsys):
    from relmas.evaluate import RESULT_COLUMNS

    sla = tmp_path / "sla.csv"
    sla.write_text(",".join(RESULT_COLUMNS) + "\n" + ",".join(
        {"workload": "light", "qos": "medium", "scheduler": "fcfs-h"}.get(c, "1") for c in RESULT_COLUMNS) + "\n")
    (tmp_path / "out").mkdir()
    rc, err = run_cli(["report", "--sla", sla, "--figures", tmp_path / "nofigs", "-o", tmp_path / "out"], capsys)
    assert_clean_error(rc, err, str(tmp_path / "out"), "is a folder")
    assert list((tmp_path / "out").iterdir()) == []


# --------------------------------------------------------------------------- #
# Numeric flags: finite positive numbers, positive counts


@pytest.mark.parametrize("argv, flag, words", [
    (["simulate", "--workload", "light", "--scheduler", "fcfs-h", "--bandwidth", "nan"], "--bandwidth", "finite"),
    (["simulate", "--workload", "light", "--scheduler", "fcfs-h", "--bandwidth", "inf"], "--bandwidth", "finite"),
    (["simulate", "--workload", "light", "--scheduler", "fcfs-h", "--bandwidth", "-3"], "--bandwidth", "> 0"),
    (["simulate", "--workload", "light", "--scheduler", "fcfs-h", "--period", "nan"], "--period", "finite"),
    (["simulate", "--workload", "light", "--scheduler", "fcfs-h", "--jobs", "0"], "--jobs", ">= 1"),
    (["evaluate", "--workload", "light", "--schedulers", "fcfs-h", "--seeds", "0", "--bandwidths", "16", "nan"],
     "--bandwidths", "finite"),
    (["evaluate", "--workload", "light", "--schedulers", "fcfs-h", "--seeds", "0", "--bandwidths", "16", "16"],
     "--bandwidths", "given twice"),
    (["evaluate", "--workload", "light", "--schedulers", "fcfs-h", "--seeds", "0", "--period", "0"], "--period", "> 0"),
    (["workload", "--workload", "light", "--qos", "medium", "--seed", "0", "--jobs", "0"], "--jobs", ">= 1"),
    (["overhead", "--hidden", "64", "--periods", "0", "--seeds", "0"], "--periods", "> 0"),
    (["overhead", "--hidden", "64", "--periods", "-5", "--seeds", "0"], "--periods", "> 0"),
    (["overhead", "--hidden", "64", "--periods", "1e5", "--seeds", "0", "--jobs", "0"], "--jobs", ">= 1"),
    (["overhead", "--hidden", "0", "--periods", "1e5", "--seeds", "0"], "--hidden", ">= 1"),
    (["overhead", "--hidden", "64", "--periods", "1e5", "--seeds", "0", "--jobs", "2.5"], "--jobs", "an integer"),
    (["calibrate", "--workload", "light", "--loads", "nan"], "--loads", "finite"),
])
def test_bad_numbers_are_refused_naming_the_flag(tmp_path, capsys, argv, flag, words):
    out = tmp_path / "out" / "x"
    rc, err = run_cli([*argv, "-o", out, "--config", "/nonexistent/config.yaml"], capsys)
    assert_clean_error(rc, err, f"argument {flag}", words)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, flag, words", [
    (["--sas", "0"], "--sas", "argument --sas: must be >= 1"),
    (["--sjs", "0"], "--sjs", "argument --sjs: must be >= 1"),
    (["--population", "1"], "--population", "argument --population: must be >= 2"),
    (["--generations", "-1"], "--generations", "argument --generations: must be >= 0"),
    (["--variant", "magma-multiseed", "--population", "3"], "--population", "needs population >= 6, got 3"),
])
def test_bench_magma_bad_flags(capsys, argv, flag, words):
    rc, err = run_cli(["bench", "magma", "--repeats", "1", "--generations", "0", *argv], capsys)
    assert_clean_error(rc, err, flag, words)


# --------------------------------------------------------------------------- #
# collect: every episode once, no empty or unreadable input

HEADER = "workload,qos,scheduler,seed,sla_rate,bandwidth_gbps\n"


def _csv(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


@pytest.mark.parametrize("case", ["same file", "same episode", "within one file", "header only", "binary"])
def test_collect_refuses_counting_an_episode_twice_and_bad_inputs(tmp_path, capsys, case):
    a = _csv(tmp_path / "a.csv", "light,medium,fcfs-h,1,0.5,16", "light,medium,fcfs-h,2,0.6,16")
    if case == "same file":
        inputs, words = [a, a], [str(a), "given twice"]
    elif case == "same episode":
        b = _csv(tmp_path / "b.csv", "light,medium,edf-h,1,0.5,16", "light,medium,fcfs-h,2,0.7,16")
        inputs, words = [a, b], [f"in {a} and {b}", "scheduler fcfs-h, seed 2, bandwidth_gbps 16"]
    elif case == "within one file":
        b = _csv(tmp_path / "b.csv", "light,medium,edf-h,1,0.5,16", "light,medium,edf-h,1,0.7,16")
        inputs, words = [a, b], [f"twice in {b}", "scheduler edf-h, seed 1"]
    elif case == "header only":
        inputs, words = [a, _csv(tmp_path / "b.csv")], [str(tmp_path / "b.csv"), "no rows"]
    else:
        (tmp_path / "b.csv").write_bytes(bytes(range(255, -1, -1)) * 4)  # not UTF-8
        inputs, words = [a, tmp_path / "b.csv"], [str(tmp_path / "b.csv"), "not a readable CSV"]
    out = tmp_path / "out" / "sla.csv"
    rc, err = run_cli(["collect", "-o", out, *inputs], capsys)
    assert_clean_error(rc, err, *words)
    assert not out.parent.exists()


def test_collect_keeps_a_bandwidth_sweep_and_distinct_episodes(tmp_path, capsys):
    a = _csv(tmp_path / "a.csv", "light,medium,fcfs-h,1,0.5,16", "light,medium,fcfs-h,1,0.4,8")
    b = _csv(tmp_path / "b.csv", "light,medium,edf-h,1,0.5,16", "light,medium,edf-h,1,0.4,8")
    rc, err = run_cli(["collect", "-o", tmp_path / "s.csv", a, b], capsys)
    assert rc == 0, err
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 5
