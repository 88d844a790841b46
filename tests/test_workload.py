"""Workload generation, files, config presets and isolated latency."""
from __future__ import annotations

import numpy as np
import pytest

from characterize.errors import InputError
from relmas import workload as wl
from relmas.config import load_config, workload_config
from relmas.costs import ModelCost, SystemCosts
from relmas.isolated import isolated_latency


def _model(name: str, cycles, bw, preds) -> ModelCost:
    cycles = np.asarray(cycles, dtype=float)
    return ModelCost(name, [f"l{i}" for i in range(len(cycles))], cycles, np.asarray(bw, dtype=float),
                     np.ones_like(cycles), np.ones_like(cycles), preds)


@pytest.fixture
def costs() -> SystemCosts:
    a = _model("a", [[100, 200], [300, 100], [50, 60]], [[12, 1], [12, 1], [1, 1]], [[], [], [0, 1]])
    b = _model("b", [[1000, 500], [800, 900]], [[4, 4], [4, 30]], [[], [0]])
    return SystemCosts("toy", ["sa0", "sa1"], ["x", "y"], 16.0, 0.0, [a, b])


def test_isolated_latency_hand_computed(costs):
    # a: layers 0 and 1 run in parallel on their fastest SAs (demand 13 <= 16), then layer 2.
    assert isolated_latency(costs.model("a"), 16.0) == pytest.approx(150.0)
    # b: 500 on sa1, then 800 on sa0 (chain).
    assert isolated_latency(costs.model("b"), 16.0) == pytest.approx(1300.0)
    # a at 8 B/cycle: demand 13 > 8 so both progress at 8/13 -> finish at 162.5, then 50 more.
    assert isolated_latency(costs.model("a"), 8.0) == pytest.approx(100 * 13 / 8 + 50)


def test_generate_reproducible_and_qos(costs):
    cfg = wl.WorkloadConfig(mix={"a": 1, "b": 1}, jobs=50, pareto_shape=2.0, load=0.5, qos_factor_medium=2.0)
    w1 = wl.generate(costs, cfg, "medium", seed=3)
    w2 = wl.generate(costs, cfg, "medium", seed=3)
    w3 = wl.generate(costs, cfg, "medium", seed=4)
    np.testing.assert_array_equal(w1.arrival, w2.arrival)
    np.testing.assert_array_equal(w1.model, w2.model)
    assert not np.array_equal(w1.arrival, w3.arrival)
    assert np.all(np.diff(w1.arrival) >= 0)
    iso = {"a": 150.0, "b": 1300.0}
    for m, q in zip(w1.model, w1.budget):
        assert q == pytest.approx(2.0 * iso[costs.models[m].name])
    hi = wl.generate(costs, cfg, "high", seed=3)
    lo = wl.generate(costs, cfg, "low", seed=3)
    np.testing.assert_allclose(hi.budget, 0.8 * w1.budget)
    np.testing.assert_allclose(lo.budget, 1.2 * w1.budget)
    np.testing.assert_array_equal(hi.arrival, w1.arrival)


def test_pareto_scale_from_load(costs):
    cfg = wl.WorkloadConfig(mix={"a": 1}, jobs=20000, pareto_shape=3.0, load=0.25)
    w = wl.generate(costs, cfg, "medium", seed=0)
    work_a = 100 + 100 + 50  # fastest SA per layer
    expected_gap = work_a / (0.25 * 2)
    assert w.meta["mean_interarrival_cycles"] == pytest.approx(expected_gap)
    gaps = np.diff(w.arrival)
    assert gaps.min() >= w.meta["pareto_scale_cycles"] * (1 - 1e-12)
    assert gaps.mean() == pytest.approx(expected_gap, rel=0.05)
    assert wl.offered_load(costs, w) == pytest.approx(0.25, rel=0.05)


def test_save_load_roundtrip(costs, tmp_path):
    cfg = wl.WorkloadConfig(mix={"a": 2, "b": 1}, jobs=10, scale_cycles=1000.0)
    w = wl.generate(costs, cfg, "low", seed=1)
    p = tmp_path / "w.yaml"
    wl.save(w, p)
    r = wl.load(p, costs)
    np.testing.assert_array_equal(r.model, w.model)
    np.testing.assert_allclose(r.arrival, w.arrival)
    np.testing.assert_allclose(r.deadline, w.deadline)
    assert r.meta["seed"] == 1


@pytest.mark.parametrize("text,field", [
    ("jobs: []\n", "jobs"),
    ("jobs:\n  - {model: a, arrival: 5, deadline: 1}\n", "jobs[0]"),
    ("jobs:\n  - {model: zz, arrival: 0, deadline: 10}\n", "jobs[0].model"),
    ("jobs:\n  - {model: a, arrival: 5, deadline: 10}\n  - {model: a, arrival: 1, deadline: 10}\n", "jobs[1].arrival"),
    ("jobs:\n  - {model: a, arrival: 0, deadline: 10, color: red}\n", "jobs[0].color"),
])
def test_bad_workload_files(costs, tmp_path, text, field):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        wl.load(p, costs)
    assert e.value.field == field and str(p) in str(e.value)


def test_config_validation(tmp_path):
    with pytest.raises(ValueError):
        wl.WorkloadConfig(mix={"a": 1}, load=0.5, scale_cycles=10.0)
    with pytest.raises(ValueError):
        wl.WorkloadConfig(mix={"a": 1}, load=0.5, pareto_shape=1.0)
    p = tmp_path / "c.yaml"
    p.write_text("workloads:\n  light: {mix: {a: 1}, load: -1}\npresets: {}\n")
    with pytest.raises(InputError) as e:
        load_config(p)
    assert "workloads.light" in str(e.value)
    with pytest.raises(InputError):
        load_config("config/config.yaml", preset="nope")


@pytest.mark.parametrize("text, field", [
    ("system: 5\n", "system"),
    ("evalution: {}\n", "evalution"),  # a misspelt section is not ignored
    ("period_cycles: {light: -1}\n", "period_cycles.light"),
    ("period_cycles: 100000\n", "period_cycles"),
    ("characterize: {models: kws}\n", "characterize.models"),
    ("workloads: {light: {mix: {a: 1}, load: 0.5}, heavy: {mix: {a: 1}, load: 0.5}}\n"
     "period_cycles: {light: 1000}\n", "period_cycles.heavy"),
    ("workloads: {light: {mix: {a: 1}, load: .inf}}\n", "load"),
])
def test_config_top_level_is_checked(tmp_path, text, field):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        load_config(p)
    assert e.value.field == field and str(p) in str(e.value)


def test_empty_config_sections_are_their_defaults(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("characterize:\n  classes:\n  settings:\nschedulers:\nlearned_schedulers:\nsystem:\n"
                 "workloads: {light: {mix: {a: 1}, load: 0.5}}\n")
    cfg = load_config(p)
    assert cfg["characterize"]["classes"] is None and cfg["schedulers"] is None  # read with `or []` / `or {}`


def test_one_period_lookup_for_every_command(tmp_path):
    from relmas.cli.simulate import period_for
    from relmas.config import period_of

    p = tmp_path / "c.yaml"
    p.write_text("workloads: {light: {mix: {a: 1}, load: 0.5}, heavy: {mix: {a: 1}, load: 0.5}}\n"
                 "period_cycles: {light: 1000, default: 7000}\n")
    cfg = load_config(p)
    assert period_of(cfg, "light") == 1000.0 and period_of(cfg, "heavy") == 7000.0
    assert period_for(cfg, "heavy", None) == 7000.0 and period_for(cfg, "heavy", 5.0) == 5.0
    p.write_text("workloads: {light: {mix: {a: 1}, load: 0.5}}\n")
    assert period_of(load_config(p), "light") == 100000.0  # no period_cycles at all: the documented default


def test_config_without_system_names_the_field(tmp_path, capsys):
    from relmas.cli import main

    p = tmp_path / "c.yaml"
    p.write_text("workloads: {light: {mix: {a: 1}, load: 0.5}}\n")
    assert main(["simulate", "--config", str(p), "--workload", "light", "--scheduler", "fcfs-h",
                 "-o", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "system" in err and str(p) in err and "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


def test_unknown_model_in_a_mix_names_the_config_file(costs, tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("workloads: {light: {mix: {a: 1, nope: 2}, load: 0.5}}\n")
    cfg = workload_config(load_config(p), "light")
    with pytest.raises(InputError) as e:
        wl.generate(costs, cfg, "medium", 0)
    assert e.value.field == "mix.nope" and f"{p} (workloads.light)" in str(e.value)
    assert "models there: a, b" in str(e.value)


def test_shipped_presets_valid():
    for preset in ("default", "smoke", "paper"):
        cfg = load_config("config/config.yaml", preset)
        for name in ("light", "heavy", "mixed"):
            assert workload_config(cfg, name).jobs > 0
    smoke = load_config("config/config.yaml", "smoke")
    assert list(smoke["workloads"]["heavy"]["mix"]) == ["alexnet"]  # mixes are replaced, not merged


@pytest.mark.parametrize("preset", ["default", "smoke", "paper"])
def test_shipped_presets_build_every_configured_scheduler(preset):
    """Every `schedulers:` entry and every recipe's expert builds with its preset's arguments (a bad value,
    e.g. a magma-multiseed population below its six seeders, would otherwise fail only mid-workflow)."""
    from relmas.scheduler import get_scheduler

    cfg = load_config("config/config.yaml", preset)
    assert cfg["schedulers"]
    for name, kw in cfg["schedulers"].items():
        assert get_scheduler(name, **(kw or {})).name == name
    experts = [r for r in (cfg["train"].get("recipes") or {}).values() if r.get("imitate")]
    assert experts
    for r in experts:
        get_scheduler(r["imitate"], **(r.get("imitate_args") or {}))
