"""The table builder: schema, caching by unique shape, per-class invalidation, CSV round trip, CLI errors."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import characterize.table as table
from characterize.backends.base import Backend, LayerCost
from characterize.errors import BackendUnavailable, InputError
from characterize.policy_layers import policy_model
from characterize.schema import Layer, Model, ModelSource, load_sa_class

REPO = Path(__file__).resolve().parents[1]
CALLS: list[tuple[str, tuple]] = []


class CountingBackend(Backend):
    """A deterministic analytic stand-in that records every evaluation (tests of the orchestration only)."""

    name = "counting"

    @classmethod
    def check_available(cls) -> None:
        pass

    def version(self) -> str:
        return "counting 1"

    def evaluate(self, sa, layer) -> LayerCost:
        CALLS.append((sa.name, layer.shape_key()))
        cycles = layer.macs / sa.peak_macs_per_cycle + 10
        return LayerCost(cycles=cycles, energy_pj=layer.macs * 1.5, dram_read_bytes=layer.C * layer.K * 1.0,
                         dram_write_bytes=layer.K * layer.P * layer.Q * 1.0, utilization=0.5)


@pytest.fixture(autouse=True)
def counting(monkeypatch):
    CALLS.clear()
    monkeypatch.setattr(table, "get_backend", lambda name, objective="latency", **kw: CountingBackend(objective, **kw))


def _model() -> Model:
    src = ModelSource(variant="toy", reference="test")
    layers = [
        Layer(name="a", op="conv", C=8, K=16, R=3, S=3, P=8, Q=8, padding=1),
        Layer(name="b", op="conv", C=16, K=16, R=3, S=3, P=8, Q=8, padding=1, after=["a"]),
        Layer(name="c", op="conv", C=16, K=16, R=3, S=3, P=8, Q=8, padding=1, after=["b"]),  # same shape as b
        Layer(name="d", op="fc", C=1024, K=10, after=["c"]),
    ]
    return Model(name="toy", source=src, layers=layers)


def test_schema_and_unique_shapes(tmp_path):
    classes = [load_sa_class(REPO / "arch/eyeriss_small.yaml"), load_sa_class(REPO / "arch/simba_small.yaml")]
    df, stats = table.build_table([_model()], classes, "counting", jobs=1, cache_dir=tmp_path, progress=False)
    assert list(df.columns[:21]) == ["model", "layer", "sa_class", "N", "C", "K", "R", "S", "P", "Q", "stride",
                                     "groups", "macs", "cycles", "energy_pj", "dram_read_bytes", "dram_write_bytes",
                                     "bandwidth_bpc", "backend", "backend_version", "objective"]
    assert len(df) == 8 and stats.rows == 8
    assert stats.unique == 6 and stats.evaluated == 6 and len(CALLS) == 6  # b and c share one evaluation
    assert list(df["layer"][::2]) == ["a", "b", "c", "d"]  # layer order kept
    r = df[(df.layer == "d") & (df.sa_class == "simba_small")].iloc[0]
    assert r.bandwidth_bpc == pytest.approx((r.dram_read_bytes + r.dram_write_bytes) / r.cycles)
    assert r.macs == 1024 * 10


def test_warm_run_evaluates_nothing_and_class_edit_reevaluates_only_it(tmp_path):
    arch = tmp_path / "arch"
    arch.mkdir()
    for n in ("eyeriss_small", "simba_small"):
        shutil.copy(REPO / f"arch/{n}.yaml", arch / f"{n}.yaml")
    cache = tmp_path / "cache"
    classes = table.load_classes(arch)
    table.build_table([_model()], classes, "counting", cache_dir=cache, progress=False)
    CALLS.clear()
    df1, warm = table.build_table([_model()], table.load_classes(arch), "counting", cache_dir=cache, progress=False)
    assert warm.evaluated == 0 and CALLS == []
    # Edit one class: only its three unique shapes are evaluated again.
    p = arch / "simba_small.yaml"
    p.write_text(p.read_text().replace("mac_energy_pj: 0.23", "mac_energy_pj: 0.25"))
    df2, st = table.build_table([_model()], table.load_classes(arch), "counting", cache_dir=cache, progress=False)
    assert st.evaluated == 3 and {c[0] for c in CALLS} == {"simba_small"}
    # A different objective is a different cache entry.
    CALLS.clear()
    _, st = table.build_table([_model()], table.load_classes(arch), "counting", objective="latency", cache_dir=cache,
                              progress=False)
    assert st.evaluated == 6


def test_parallel_equals_serial(tmp_path):
    classes = [load_sa_class(REPO / "arch/eyeriss_large.yaml")]
    models = [_model(), policy_model(64, 6)]
    serial, _ = table.build_table(models, classes, "counting", jobs=1, cache_dir=tmp_path / "a", progress=False)
    # Worker processes build their own backend via get_backend, which is not patched there; exercise the
    # pool only through the cache: fill it serially, then a parallel run must read exactly the same rows.
    par, st = table.build_table(models, classes, "counting", jobs=2, cache_dir=tmp_path / "a", progress=False)
    assert st.evaluated == 0
    pd.testing.assert_frame_equal(serial, par)


def test_write_read_roundtrip_and_errors(tmp_path):
    classes = [load_sa_class(REPO / "arch/simba_small.yaml")]
    df, _ = table.build_table([_model()], classes, "counting", cache_dir=tmp_path, progress=False)
    out = tmp_path / "t.csv"
    table.write_table(df, out)
    back = table.read_table(out)
    assert list(back["layer"]) == list(df["layer"])
    bad = tmp_path / "bad.csv"
    bad.write_text("model,layer\nx,y\n")
    with pytest.raises(InputError, match="missing columns"):
        table.read_table(bad)
    with pytest.raises(InputError, match="not found"):
        table.read_table(tmp_path / "none.csv")
    df2 = df.copy()
    df2.loc[1, "cycles"] = 0
    table.write_table(df2, bad)
    with pytest.raises(InputError, match=r"row 3 .*cycles"):
        table.read_table(bad)


def test_policy_layers_macs():
    m = policy_model(256, 6)
    f, g = 16, 7
    assert m.macs == 4 * 256 * (f + 256) + 256 * 128 + 128 * g == 312_192
    with pytest.raises(ValueError):
        policy_model(33, 6)


def test_cli_unknown_names_and_missing_backend(tmp_path, monkeypatch, capsys):
    from relmas.cli import main

    assert main(["characterize", "--models", "nope", "--cache-dir", str(tmp_path), "-o", str(tmp_path / "t.csv")]) == 2
    assert "no model 'nope'" in capsys.readouterr().err
    assert main(["characterize", "--classes", "nope", "-o", str(tmp_path / "t.csv")]) == 2
    assert "no SA class 'nope'" in capsys.readouterr().err

    def unavailable(*a, **k):
        raise BackendUnavailable("timeloop-mapper not found on PATH; install it (see docs/timeloop.md)")

    monkeypatch.setattr(table, "get_backend", unavailable)
    rc = main(["characterize", "--backend", "timeloop", "--models", "yolo_lite", "-o", str(tmp_path / "t.csv")])
    assert rc == 3 and "timeloop-mapper" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_bench_characterize_cold_then_warm_on_the_configured_models(tmp_path, capsys):
    import json

    from relmas.cli import main

    cfg = tmp_path / "config.yaml"
    cfg.write_text("characterize:\n  models: [kws, yolo_lite]\n")
    rc = main(["bench", "characterize", "--config", str(cfg), "--classes", "eyeriss_small", "simba_small",
               "--arch-dir", str(REPO / "arch"), "--layers-dir", str(REPO / "layers"), "-j", "1", "--json"])
    assert rc == 0
    r = json.loads(capsys.readouterr().out)
    assert r["models"] == 2 and r["classes"] == 2
    assert r["evaluated_cold"] == r["unique_evaluations"] > 0
    assert r["evaluated_warm"] == 0
    assert r["cold_s"] >= 0 and r["warm_s"] >= 0


class FailingBackend(CountingBackend):
    """Fails on fully-connected layers, as a backend does on a layer it cannot map."""

    name = "failing"

    def evaluate(self, sa, layer) -> LayerCost:
        if layer.op == "fc":
            raise RuntimeError("no valid mapping\n  (second line)")
        return super().evaluate(sa, layer)


def test_backend_failure_is_an_input_error_naming_class_file_and_layer(tmp_path, monkeypatch):
    from characterize.backends import class_checks

    monkeypatch.setattr(table, "get_backend", lambda name, objective="latency", **kw: FailingBackend(objective, **kw))
    monkeypatch.setitem(class_checks.CHECKS, "failing",
                        lambda sa: [("dataflow", "not this one")] if sa.name == "simba_small" else [])
    arch = REPO / "arch"
    eyeriss = [load_sa_class(arch / "eyeriss_small.yaml")]
    with pytest.raises(InputError) as e:
        table.build_table([_model()], eyeriss, "failing", cache_dir=tmp_path, progress=False, arch_dir=arch)
    assert e.value.path == str(arch / "eyeriss_small.yaml")
    assert "layer toy/d" in e.value.message and "RuntimeError: no valid mapping (second line)" in e.value.message
    # What the backend refuses statically is reported at the class file's field, before any evaluation.
    CALLS.clear()
    classes = eyeriss + [load_sa_class(arch / "simba_small.yaml")]
    with pytest.raises(InputError) as e:
        table.build_table([_model()], classes, "failing", cache_dir=tmp_path / "b", progress=False, arch_dir=arch)
    assert e.value.path == str(arch / "simba_small.yaml") and e.value.field == "dataflow" and CALLS == []


class BuggyBackend(CountingBackend):
    """Has a bug on fully-connected layers (a KeyError), which is not the class file's fault."""

    name = "buggy"

    def evaluate(self, sa, layer) -> LayerCost:
        if layer.op == "fc":
            return {}["missing"]
        return super().evaluate(sa, layer)


def test_backend_bug_is_not_blamed_on_the_class_file(tmp_path, monkeypatch):
    monkeypatch.setattr(table, "get_backend", lambda name, objective="latency", **kw: BuggyBackend(objective, **kw))
    eyeriss = [load_sa_class(REPO / "arch/eyeriss_small.yaml")]
    with pytest.raises(KeyError):
        table.build_table([_model()], eyeriss, "buggy", cache_dir=tmp_path, progress=False, arch_dir=REPO / "arch")


@pytest.mark.parametrize("col,value,words", [
    ("energy_pj", float("nan"), "got nan"),
    ("dram_read_bytes", -1.0, ">= 0"),
    ("dram_write_bytes", float("inf"), "finite"),
    ("bandwidth_bpc", "fast", "got fast"),
    ("K", 0, "> 0"),
    ("utilization", -0.5, ">= 0"),
])
def test_read_table_checks_every_numeric_column(tmp_path, col, value, words):
    classes = [load_sa_class(REPO / "arch/simba_small.yaml")]
    df, _ = table.build_table([_model()], classes, "counting", cache_dir=tmp_path, progress=False)
    df[col] = df[col].astype(object)
    df.loc[2, col] = value
    bad = tmp_path / "bad.csv"
    table.write_table(df, bad)
    with pytest.raises(InputError) as e:
        table.read_table(bad)
    assert e.value.path == str(bad) and e.value.field == f"row 4 (toy/c/simba_small).{col}"
    assert words in e.value.message


def test_shipped_table_matches_the_shipped_layer_files():
    from relmas.costs import load_costs

    shipped = REPO / "outputs/tables/zigzag.csv"
    if not shipped.is_file():
        pytest.skip("outputs/tables/zigzag.csv not built (snakemake -j8 all)")
    costs = load_costs(shipped, REPO / "arch/systems/relmas_6sa.yaml", REPO / "layers")
    assert len(costs.models) == 7 and costs.num_sas == 6


def test_stale_table_after_a_layer_shape_edit_is_refused(tmp_path):
    from relmas.costs import load_costs
    from relmas.io import write_yaml
    from characterize.schema import model_to_dict

    arch = tmp_path / "arch"
    (arch / "systems").mkdir(parents=True)
    for n in ("eyeriss_small", "simba_small"):
        shutil.copy(REPO / f"arch/{n}.yaml", arch / f"{n}.yaml")
    shutil.copy(REPO / "arch/systems/tiny_2sa.yaml", arch / "systems/tiny_2sa.yaml")
    layers = tmp_path / "layers"
    layers.mkdir()
    write_yaml(layers / "toy.yaml", model_to_dict(_model()))
    df, _ = table.build_table([_model()], table.load_classes(arch), "counting", cache_dir=tmp_path, progress=False)
    out = tmp_path / "t.csv"
    table.write_table(df, out)
    assert load_costs(out, arch / "systems/tiny_2sa.yaml", layers).model("toy").num_layers == 4
    # Edit a's output channels (and b's input channels) without renaming: the table is stale.
    p = layers / "toy.yaml"
    p.write_text(p.read_text().replace("K: 16", "K: 32", 1).replace("C: 16", "C: 32", 1))
    with pytest.raises(InputError) as e:
        load_costs(out, arch / "systems/tiny_2sa.yaml", layers)
    assert e.value.path == str(out) and e.value.field == "toy/a (eyeriss_small).K"
    assert f"has K=16 but {p} says K=32" in e.value.message and "relmas characterize" in e.value.message
