"""Bad command-line input: one clear line naming the flag (or file and field), exit status 2, no traceback,
nothing written, and found before any long work starts."""
from __future__ import annotations

from pathlib import Path

import pytest

from relmas.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scen(analytic_light_table) -> list[str]:
    """Scenario flags of a small real setup: the tiny 2-SA system and the analytic table of the light set
    (conftest's ``analytic_light_table``; no mapper needed)."""
    path = analytic_light_table
    return ["--system", str(REPO / "arch/systems/tiny_2sa.yaml"), "--table", str(path),
            "--config", str(REPO / "config/config.yaml"), "--layers-dir", str(REPO / "layers")]


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
        "report": ["report", "--sla", "/nonexistent/sla.csv", "-o", o],
    }


def test_figures_folder_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    rc, err = run_cli(["figures", "--sla", "/nonexistent/sla.csv", "-o", tmp_path / "afile"], capsys)
    assert_clean_error(rc, err, "-o/--outdir", "is a file, not a folder")
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]


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


# --------------------------------------------------------------------------- #
# Scheduler parameters are type-checked from the constructors' annotations


@pytest.mark.parametrize("scheduler, param, words", [
    ("magma", "generations=2.5", "generations must be an integer, got '2.5'"),
    ("magma", "generations=true", "generations must be an integer, got 'true'"),
    ("magma", "generations=abc", "generations must be an integer, got 'abc'"),
    ("magma-seeded", "population=1e2", "population must be an integer, got '1e2'"),
    ("magma", "quirks=maybe", "quirks must be true or false, got 'maybe'"),
    ("magma", "init=foo", "init must be one of 'random', 'edf', 'heuristics', got 'foo'"),
    ("fcfs-h", "tie_break=3", "tie_break must be a string, got '3'"),
    ("prema-h", "default_class=.nan", "default_class must be a number, got 'nan'"),
    ("relmas", "overhead_sa=1.5", "overhead_sa must be an integer or null, got '1.5'"),
    ("relmas", "charge_overhead=maybe", "charge_overhead must be true or false, got 'maybe'"),
])
def test_scheduler_parameters_of_the_wrong_type_are_refused(scen, tmp_path, capsys, scheduler, param, words):
    policy = ["--policy", str(tmp_path / "never_read.pt")] if scheduler == "relmas" else []
    out = tmp_path / "out" / "r.json"
    rc, err = run_cli(["simulate", "--workload", "light", "--scheduler", scheduler, "--param", param, *policy,
                       "--jobs", "5", "-o", out, *scen], capsys)
    assert_clean_error(rc, err, words)
    assert f"--param: {param.split('=')[0]}" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("scheduler", ["magma", "magma-seeded", "magma-multiseed"])
def test_unknown_parameter_of_a_magma_variant_blames_param_without_traceback(scen, tmp_path, capsys, scheduler):
    # magma-seeded and magma-multiseed forward **kwargs to Magma: their signature must still be Magma's
    rc, err = run_cli(["simulate", "--workload", "light", "--scheduler", scheduler, "--param", "foo=1",
                       "--jobs", "5", "-o", tmp_path / "r.json", *scen], capsys)
    assert_clean_error(rc, err, "--param", "unexpected keyword argument 'foo'")


def test_learned_scheduler_name_is_case_insensitive(scen, tmp_path, capsys):
    # the registry matches names case-insensitively; the --policy checks must too
    rc, err = run_cli(["simulate", "--workload", "light", "--scheduler", "RELMAS", "--jobs", "5",
                       "-o", tmp_path / "r.json", *scen], capsys)
    assert_clean_error(rc, err, "--policy", "needs --policy PATH")
    rc, err = run_cli(["simulate", "--workload", "light", "--scheduler", "RELMAS", "--policy", tmp_path / "none.pt",
                       "--jobs", "5", "-o", tmp_path / "r.json", *scen], capsys)
    assert_clean_error(rc, err, str(tmp_path / "none.pt"))
    assert "takes no policy" not in err


def test_scheduler_parameter_of_the_wrong_type_from_the_config_file(scen, tmp_path, capsys):
    import yaml

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["schedulers"]["magma"] = {"generations": "abc", "population": 4}
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg))
    flags = list(scen)
    flags[flags.index("--config") + 1] = str(p)
    rc, err = run_cli(["simulate", "--workload", "light", "--scheduler", "magma", "--jobs", "5",
                       "-o", tmp_path / "r.json", *flags], capsys)
    assert_clean_error(rc, err, "generations must be an integer, got 'abc'")
    assert f"{p}: schedulers.magma.generations" in err  # the value's source, not --param
    assert not (tmp_path / "r.json").exists()


def test_scheduler_param_source_names_param_or_the_config_section():
    """The helper make_scheduler can use to say where a bad parameter came from."""
    from relmas.cli.common import scheduler_param_source
    from relmas.scheduler import get_scheduler

    cfg = {"_path": "c.yaml", "schedulers": {"magma": {"generations": "abc", "population": 4}}}
    for params, where in (({}, ("c.yaml", "schedulers.magma.generations")),
                          ({"generations": "abc"}, ("--param", "generations"))):
        with pytest.raises(ValueError) as e:
            get_scheduler("magma", **{**cfg["schedulers"]["magma"], **params})
        assert scheduler_param_source("magma", cfg, params, e.value) == where
    assert scheduler_param_source("magma", cfg, {}, ValueError("population must be >= 2")) == ("--param", "")


def test_typed_params_accept_what_yaml_gives_for_valid_values():
    import numpy as np

    from baselines.magma import Magma
    from relmas.typed_params import ParamError, check_params

    init = Magma.__init__.__wrapped__
    got = check_params(init, {"generations": np.int64(3), "mutation_rate": "1e-3", "slack_weight": 1, "seed": None,
                              "init": "edf", "unknown": object})
    assert got["mutation_rate"] == 0.001 and got["slack_weight"] == 1 and got["unknown"] is object
    for bad in ({"mutation_rate": "0.05"}, {"mutation_rate": True}, {"mutation_rate": float("inf")},
                {"seed": 1.0}, {"init": 1}):
        with pytest.raises(ParamError) as e:
            check_params(init, bad)
        assert e.value.param == next(iter(bad))
    m = Magma(generations=2, population=4, mutation_rate="1e-2")
    assert m.mutation_rate == 0.01 and m.generations == 2


# --------------------------------------------------------------------------- #
# evaluate: no option silently ignored, no duplicate rows


@pytest.mark.parametrize("extra, words", [
    (["--policy", "foo=/tmp/pol.pt"], ["--policy", "'foo' is not one of --schedulers (fcfs-h)"]),
    (["--policy", "relmas=/tmp/pol.pt"], ["--policy", "'relmas' is not one of --schedulers"]),
    (["--param", "magma:generations=3"], ["--param", "'magma' is not one of --schedulers"]),
    (["--param", "FCFS-H:tie_break=fit"], ["--param", "'FCFS-H' is not one of --schedulers"]),
])
def test_evaluate_refuses_options_for_schedulers_it_does_not_run(scen, tmp_path, capsys, extra, words):
    out = tmp_path / "e.csv"
    rc, err = run_cli(["evaluate", "--workload", "light", "--schedulers", "fcfs-h", "--seeds", "1", "--jobs", "5",
                       *extra, "-o", out, *scen], capsys)
    assert_clean_error(rc, err, *words)
    assert not out.exists()


def test_evaluate_refuses_a_scheduler_given_twice(tmp_path, capsys):
    rc, err = run_cli(["evaluate", "--workload", "light", "--schedulers", "fcfs-h", "edf-h", "fcfs-h", "--seeds", "1",
                       "-o", tmp_path / "e.csv", "--config", "/nonexistent/config.yaml"], capsys)
    assert_clean_error(rc, err, "argument --schedulers: 'fcfs-h' is given twice")


def test_evaluate_with_options_for_its_schedulers_runs(scen, tmp_path, capsys):
    out = tmp_path / "e.csv"
    rc, err = run_cli(["evaluate", "--workload", "light", "--schedulers", "fcfs-h", "magma", "--seeds", "1", "2",
                       "--jobs", "5", "--param", "magma:generations=1", "--param", "magma:population=4", "--quiet",
                       "-o", out, *scen], capsys)
    assert rc == 0, err
    assert len(out.read_text().splitlines()) == 1 + 2 * 2


# --------------------------------------------------------------------------- #
# train: an explicit policy table must exist


def test_train_refuses_a_missing_explicit_policy_table(tmp_path, capsys):
    rc, err = run_cli(["train", "--workload", "light", "--qos", "medium", "-o", tmp_path / "run",
                       "--policy-table", tmp_path / "none.csv", "--config", "/nonexistent/config.yaml"], capsys)
    assert_clean_error(rc, err, "--policy-table", f"'{tmp_path / 'none.csv'}' not found")
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- #
# Messages that name the right flag and say what is wrong


def test_calibrate_says_a_learned_scheduler_cannot_be_calibrated(tmp_path, capsys):
    rc, err = run_cli(["calibrate", "--workload", "light", "--loads", "0.5", "--schedulers", "fcfs-h", "relmas",
                       "--config", "/nonexistent/config.yaml"], capsys)
    assert_clean_error(rc, err, "--schedulers", "'relmas' is a learned scheduler and cannot be calibrated")
    assert "--policy PATH" not in err


@pytest.mark.parametrize("setting, field, words", [
    ("hidden=abc", "hidden", "hidden must be an integer"),
    ("hiden=3", "hiden", "unknown train setting"),
    ("reward.delta=x", "reward.delta", "must be a number"),
    ("reward={delta: x}", "reward.delta", "must be a number"),
    ("imitate_args={generations: abc}", "imitate_args.generations", "generations must be an integer, got 'abc'"),
    ("imitate_args.generations=2.5", "imitate_args.generations", "generations must be an integer, got '2.5'"),
    ("imitate=nope", "imitate", "unknown scheduler 'nope'"),
])
def test_train_set_errors_name_set_not_the_config_file(setting, field, words):
    from characterize.errors import InputError
    from relmas.cli.train import train_config

    cfg = {"_path": "c.yaml", "train": {"recipe": "bc-ddpg", "imitate": "magma-seeded",
                                        "imitate_args": {"generations": 2, "population": 4}}}
    with pytest.raises(InputError) as e:
        train_config(cfg, None, [setting])
    assert (e.value.path, e.value.field) == ("--set", field) and words in e.value.message


@pytest.mark.parametrize("train, field, words", [
    ({"hidden": "abc"}, "hidden", "hidden must be an integer"),
    ({"imitate_args": {"generations": "abc"}}, "imitate_args.generations", "generations must be an integer"),
])
def test_train_config_errors_name_the_config_file(train, field, words):
    from characterize.errors import InputError
    from relmas.cli.train import train_config

    cfg = {"_path": "c.yaml", "train": {"recipe": "bc-ddpg", "imitate": "magma-seeded",
                                        "imitate_args": {"generations": 2, "population": 4}}}
    cfg["train"].update(train)
    with pytest.raises(InputError) as e:
        train_config(cfg, None, ["gamma=0.5"])
    assert (e.value.path, e.value.field) == ("c.yaml (train)", field) and words in e.value.message


def test_train_set_error_on_the_command_line(scen, tmp_path, capsys):
    rc, err = run_cli(["train", "--workload", "light", "--qos", "medium", "-o", tmp_path / "run",
                       "--set", "hidden=abc", *scen], capsys)
    assert_clean_error(rc, err, "--set: hidden: hidden must be an integer")
    assert "config.yaml" not in err and not (tmp_path / "run").exists()


def test_collect_help_prints_a_single_percent_sign(capsys):
    with pytest.raises(SystemExit) as e:
        main(["collect", "--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "95% CI" in out and "%%" not in out
