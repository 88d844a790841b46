"""Tests of the ZigZag characterisation backend (characterize/backends/zigzag_backend.py).

The fast tests check the translation (spatial mappings, stationary loops,
hardware description, settings) without running ZigZag's search. The tests
marked ``slow`` run real ZigZag evaluations on small layers and check that the
numbers make physical sense; they also run in CI (the whole file takes about a
minute). Results are cached per (class, layer, objective) within the module.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache
from importlib.metadata import version as pkg_version
from pathlib import Path

import pytest

from characterize.backends.base import LayerCost
from characterize.backends.zigzag_backend import (
    DEFAULT_OBJECTIVE,
    DEFAULT_SETTINGS,
    ZigZagBackend,
    hardware_dict,
    spatial_mapping_for,
    stationary_loop,
)
from characterize.errors import BackendUnavailable
from characterize.schema import Dataflow, Layer, PEArray, SAClass, load_sa_class

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("eyeriss_small", "eyeriss_large", "simba_small", "simba_large")


@lru_cache(maxsize=None)
def sa_class(name: str) -> SAClass:
    return load_sa_class(ROOT / "arch" / f"{name}.yaml")


# Layers: small enough to evaluate in about a second, large enough to mean something.
CONV3 = Layer(name="conv3", op="conv", C=32, K=64, R=3, S=3, P=28, Q=28, padding=1)
PW = Layer(name="pw", op="conv", C=256, K=256, P=14, Q=14)  # 1x1: channel-heavy, favours WS
STEM = Layer(name="stem", op="conv", C=3, K=32, R=7, S=7, P=56, Q=56, stride=2, padding=3)  # few channels
DW = Layer(name="dw", op="dwconv", C=64, K=64, R=3, S=3, P=28, Q=28, padding=1, groups=64)
FC6 = Layer(name="fc6", op="fc", C=9216, K=4096)  # AlexNet fc6, batch 1
BIG = Layer(name="big", op="conv", C=128, K=128, R=3, S=3, P=28, Q=28, padding=1)
TINY = Layer(name="tiny", op="conv", C=8, K=16, R=3, S=3, P=8, Q=8, padding=1)

MAPPING_LAYERS = [
    CONV3, PW, STEM, DW, FC6, BIG, TINY,
    Layer(name="alex1", op="conv", C=3, K=96, R=11, S=11, P=55, Q=55, stride=4, padding=2),
    Layer(name="g2", op="gconv", C=96, K=256, R=5, S=5, P=27, Q=27, padding=2, groups=2),
    Layer(name="mm", op="matmul", C=64, K=96, P=49, Q=1),
    Layer(name="odd", op="conv", C=5, K=7, R=5, S=2, P=13, Q=9, stride=(2, 1), padding=(2, 0)),
    Layer(name="fcb", op="fc", C=100, K=10, N=4),
]


#: The physical checks hold for any mapping ZigZag returns, so most slow tests use a
#: smaller LOMA budget than the default (720) to keep this file around a minute.
FAST = {"max_orderings": 120}
_RESULTS: dict[tuple, LayerCost] = {}


def run(cls: str, layer: Layer, objective: str = DEFAULT_OBJECTIVE) -> LayerCost:
    """Evaluation with the FAST settings, computed once per (class, layer, objective) in this module."""
    key = (cls, layer.shape_key(), objective)
    if key not in _RESULTS:
        _RESULTS[key] = ZigZagBackend(objective=objective, **FAST).evaluate(sa_class(cls), layer)
    return _RESULTS[key]


# --------------------------------------------------------------------------- #
# Fast: translation, settings, availability


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("layer", MAPPING_LAYERS, ids=lambda l: l.name)
def test_spatial_mapping_fits_array_and_layer(cls, layer):
    sa = sa_class(cls)
    dims, mapping = spatial_mapping_for(sa, layer)
    sizes = {"B": layer.N, "K": layer.K // layer.groups, "G": layer.groups, "OX": layer.Q, "OY": layer.P,
             "C": layer.C // layer.groups, "FX": layer.S, "FY": layer.R}
    assert {d.name for d in dims} == set(mapping)
    assert sum(1 for _ in dims) in (2, 4)
    total_units = 1
    for d in dims:
        used = 1
        for loop, u in mapping[d.name].items():
            assert u >= 2
            used *= u
        assert used <= d.size, (d, mapping)
        total_units *= d.size
    assert total_units == sa.peak_macs_per_cycle
    totals: dict[str, int] = {}
    for loops in mapping.values():
        for loop, u in loops.items():
            totals[loop] = totals.get(loop, 1) * u
    for loop, u in totals.items():
        assert u <= sizes[loop], (loop, u, sizes)


@pytest.mark.parametrize("layer", MAPPING_LAYERS, ids=lambda l: l.name)
@pytest.mark.parametrize("cls", ("eyeriss_small", "eyeriss_large"))
def test_row_stationary_rules(cls, layer):
    sa = sa_class(cls)
    _, m = spatial_mapping_for(sa, layer)
    rows, cols = sa.pe_array.rows, sa.pe_array.cols
    # Rows: filter rows first (the whole filter column when it fits), then channels / groups only.
    assert set(m["D1"]) <= {"FY", "C", "G"}
    if 1 < layer.R <= rows:
        assert m["D1"]["FY"] == layer.R
    # Columns: output rows first, replicas over output channels / groups / batch; never a reduction loop.
    assert set(m["D2"]) <= {"OY", "K", "G", "B"}
    if layer.P > 1:
        assert "OY" in m["D2"]
    if layer.op == "fc" and layer.N == 1:
        assert m == {"D1": {"C": rows}, "D2": {"K": cols}}


@pytest.mark.parametrize("layer", MAPPING_LAYERS, ids=lambda l: l.name)
@pytest.mark.parametrize("cls", ("simba_small", "simba_large"))
def test_weight_stationary_rules(cls, layer):
    sa = sa_class(cls)
    _, m = spatial_mapping_for(sa, layer)
    # Vector rows and PE rows: input channels only; vector columns and PE columns: output channels (or groups).
    assert set(m["D1"]) <= {"C"} and set(m["D3"]) <= {"C"}
    assert set(m["D2"]) <= {"K", "G"} and set(m["D4"]) <= {"K", "G"}
    if layer.C // layer.groups >= 16:
        assert m["D1"] == {"C": 4} and m["D3"] == {"C": 4}
    if layer.K // layer.groups >= 4 * sa.pe_array.cols:
        assert m["D2"] == {"K": 4} and m["D4"] == {"K": sa.pe_array.cols}


def test_depthwise_uses_groups():
    _, rs = spatial_mapping_for(sa_class("eyeriss_small"), DW)
    assert rs["D1"] == {"FY": 3, "G": 5} and rs["D2"]["OY"] == 14
    _, ws = spatial_mapping_for(sa_class("simba_small"), DW)
    assert ws == {"D1": {}, "D2": {"G": 4}, "D3": {}, "D4": {"G": 4}}


def test_stationary_loop():
    assert stationary_loop(sa_class("eyeriss_small"), CONV3) == "FX"
    assert stationary_loop(sa_class("eyeriss_small"), PW) is None
    assert stationary_loop(sa_class("eyeriss_small"), FC6) is None
    assert stationary_loop(sa_class("simba_small"), CONV3) == "OX"
    assert stationary_loop(sa_class("simba_small"), Layer(name="m", op="matmul", C=8, K=8, P=5)) == "OY"
    assert stationary_loop(sa_class("simba_small"), Layer(name="f", op="fc", C=8, K=8, N=4)) == "B"
    assert stationary_loop(sa_class("simba_small"), FC6) is None


def test_hardware_translation_follows_arch_file():
    sa = sa_class("simba_large")
    dims, _ = spatial_mapping_for(sa, CONV3)
    hw = hardware_dict(sa, dims)
    assert hw["operational_array"]["sizes"] == [4, 4, 4, 8]
    assert hw["operational_array"]["unit_energy"] == sa.mac_energy_pj
    names = list(hw["memories"])
    assert names == [m.name for m in sa.pe_buffers] + [sa.global_buffer.name, "dram"]
    wb = hw["memories"]["weight_buffer"]
    assert wb["size"] == 16384 * 8 and wb["operands"] == ["I2"] and wb["served_dimensions"] == ["D1", "D2"]
    assert wb["r_cost"] == 28.2843 and wb["ports"][0]["bandwidth_max"] == 128
    glb = hw["memories"]["glb"]
    assert glb["operands"] == ["I1", "O"] and glb["served_dimensions"] == ["D1", "D2", "D3", "D4"]
    eyeriss = sa_class("eyeriss_small")
    hw_e = hardware_dict(eyeriss, spatial_mapping_for(eyeriss, CONV3)[0])
    assert hw_e["operational_array"]["sizes"] == [16, 16]
    assert all(hw_e["memories"][m.name]["served_dimensions"] == [] for m in eyeriss.pe_buffers)


def test_settings_are_complete_and_validated():
    be = ZigZagBackend()
    s = be.settings()
    assert s["objective"] == DEFAULT_OBJECTIVE == "edp"
    for key, value in DEFAULT_SETTINGS.items():
        assert s[key] == value
    assert "translation_version" in s
    assert ZigZagBackend(lpf_limit=5).settings() != s
    assert ZigZagBackend(objective="edp").settings()["objective"] == "edp"
    with pytest.raises(ValueError, match="unknown zigzag backend setting"):
        ZigZagBackend(lpf=3)
    with pytest.raises(ValueError, match="lpf_limit"):
        ZigZagBackend(lpf_limit=0)
    with pytest.raises(ValueError, match="engine"):
        ZigZagBackend(engine="salsa")
    with pytest.raises(ValueError, match="objective"):
        ZigZagBackend(objective="throughput")


def test_version_and_availability(monkeypatch):
    assert ZigZagBackend().version() == f"zigzag-dse {pkg_version('zigzag-dse')}"
    ZigZagBackend.check_available()
    for mod in [m for m in sys.modules if m == "zigzag" or m.startswith("zigzag.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "zigzag", None)  # makes `import zigzag` raise ImportError
    with pytest.raises(BackendUnavailable, match="pip install 'zigzag-dse==3.9.1'"):
        ZigZagBackend.check_available()


def test_unsupported_dataflow_is_refused():
    sa = sa_class("eyeriss_small").model_copy(update={"dataflow": Dataflow.OUTPUT_STATIONARY})
    with pytest.raises(ValueError, match="output_stationary"):
        spatial_mapping_for(sa, CONV3)


# --------------------------------------------------------------------------- #
# Slow: real ZigZag evaluations


@pytest.mark.slow
@pytest.mark.parametrize("cls", CLASSES)
def test_physical_bounds(cls):
    sa = sa_class(cls)
    r = run(cls, CONV3)
    ideal = CONV3.macs / sa.peak_macs_per_cycle
    assert r.cycles >= ideal
    assert 0 < r.utilization <= 1
    assert r.utilization == pytest.approx(CONV3.macs / (r.cycles * sa.peak_macs_per_cycle))
    assert r.energy_pj > CONV3.macs * sa.mac_energy_pj
    # Every operand crosses the DRAM interface at least once (8-bit words).
    ih, iw = CONV3.input_hw
    weights = CONV3.K * CONV3.C * CONV3.R * CONV3.S
    inputs = CONV3.C * ih * iw
    outputs = CONV3.K * CONV3.P * CONV3.Q
    assert r.dram_read_bytes >= weights + inputs
    assert r.dram_write_bytes >= outputs
    # Stall-free: DRAM never stalls; cycles are ZigZag's compute + on-chip stall + on-chip fill/drain.
    d = r.details
    assert not any(port.startswith("dram.") for port in d["stall_by_port"])
    assert r.cycles == pytest.approx(
        d["ideal_temporal_cycles"] + d["onchip_stall_cycles"] + d["onloading_cycles"] + d["offloading_cycles"]
    )
    assert r.energy_pj == pytest.approx(d["mac_energy_pj"] + d["onchip_memory_energy_pj"] + d["dram_energy_pj"])
    # The ordering budget is what LOMA really evaluated.
    assert d["mappings_evaluated"] == d["loma_orderings"] <= FAST["max_orderings"]
    assert d["dram_energy_pj"] == pytest.approx(
        (r.dram_read_bytes + r.dram_write_bytes) * 8 * sa.dram.energy_pj_per_bit
    )


@pytest.mark.slow
@pytest.mark.parametrize("small,large", [("eyeriss_small", "eyeriss_large"), ("simba_small", "simba_large")])
def test_large_class_not_slower(small, large):
    # Under the latency objective (EDP may trade cycles for energy, differently on each class).
    s, big = run(small, BIG, "latency"), run(large, BIG, "latency")
    assert big.cycles <= s.cycles
    # 2x the MACs must buy a real speed-up on a layer that fills both arrays.
    assert big.cycles < 0.85 * s.cycles


@pytest.mark.slow
@pytest.mark.parametrize("cls", CLASSES)
def test_fc6_is_dram_bound(cls):
    r = run(cls, FC6)
    weights = FC6.C * FC6.K
    assert r.dram_read_bytes >= weights
    bandwidth = (r.dram_read_bytes + r.dram_write_bytes) / r.cycles
    assert bandwidth > 16.0


@pytest.mark.slow
def test_eyeriss_and_simba_rank_differently():
    # Depthwise: a WS C x K array has one input and one output channel per group to spread (at most
    # 1/4 of its MACs busy); RS spreads filter rows, groups and output rows.
    assert run("eyeriss_small", DW).cycles < run("simba_small", DW).cycles
    # Channel-heavy 1x1 layer: WS fills all 256 MACs, RS has no filter rows to spread.
    assert run("simba_small", PW).cycles < run("eyeriss_small", PW).cycles


@pytest.mark.slow
def test_spatial_and_temporal_mapping_really_rs_and_ws():
    rs = run("eyeriss_small", CONV3).details
    ws = run("simba_small", CONV3).details
    # What ZigZag actually used (read back from its cost-model evaluation), not what was asked.
    assert rs["spatial_mapping"]["D1"]["FY"] == 3 and "C" in rs["spatial_mapping"]["D1"]
    assert set(rs["spatial_mapping"]["D2"]) == {"OY"}
    assert rs["spatial_mapping"] == rs["spatial_mapping_requested"]
    assert ws["spatial_mapping"] == {"D1": {"C": 4}, "D2": {"K": 4}, "D3": {"C": 4}, "D4": {"K": 4}}
    # Stationarity in time: RS slides a filter row (FX innermost), WS streams output pixels past a weight.
    assert rs["innermost_temporal_loop"] == "FX" and rs["temporal_innermost_used"]["W"] == "FX"
    assert ws["innermost_temporal_loop"] == "OX" and ws["temporal_innermost_used"]["W"] == "OX"


@pytest.mark.slow
def test_deterministic_in_process_and_across_processes():
    a = ZigZagBackend().evaluate(sa_class("simba_small"), TINY)
    b = ZigZagBackend().evaluate(sa_class("simba_small"), TINY)
    assert a == b
    code = (
        "import json; from characterize.schema import Layer, load_sa_class;"
        "from characterize.backends.zigzag_backend import ZigZagBackend;"
        f"L = Layer.model_validate_json({TINY.model_dump_json()!r});"
        "r = ZigZagBackend().evaluate(load_sa_class('arch/simba_small.yaml'), L);"
        "print(json.dumps(r.to_dict()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    # Everything, details included, as the table's cache would store it.
    assert json.loads(out.stdout.strip().splitlines()[-1]) == json.loads(json.dumps(a.to_dict()))


@pytest.mark.slow
def test_objective_changes_the_mapping():
    lat = run("eyeriss_small", CONV3, "latency")
    edp = run("eyeriss_small", CONV3, "edp")
    energy = run("eyeriss_small", CONV3, "energy")
    assert lat.cycles <= edp.cycles <= energy.cycles
    assert energy.energy_pj <= edp.energy_pj <= lat.energy_pj
    assert edp.cycles * edp.energy_pj <= lat.cycles * lat.energy_pj
    assert edp.cycles * edp.energy_pj <= energy.cycles * energy.energy_pj
    # ... and the objectives do pick different mappings on this layer.
    assert len({lat.details["temporal_mapping"], edp.details["temporal_mapping"],
                energy.details["temporal_mapping"]}) >= 2
    assert lat.cycles < energy.cycles and energy.energy_pj < lat.energy_pj


@pytest.mark.slow
def test_shared_mapping_shortcut_changes_nothing():
    fast = ZigZagBackend(**FAST)
    slow = ZigZagBackend(**FAST)
    slow.shared_mapping = False
    for cls, layer in (("simba_small", TINY), ("eyeriss_small", TINY)):
        assert fast.evaluate(sa_class(cls), layer) == slow.evaluate(sa_class(cls), layer)


@pytest.mark.slow
def test_policy_weights_stay_resident_across_a_decisions_steps(tmp_path):
    """The decision-overhead model: with the weights loaded once, a step costs a fraction of a lone step."""
    from characterize.policy_layers import policy_models
    from characterize.table import build_table, load_classes
    from relmas.policy import policy_decision_cost

    hidden, M = 64, 6
    classes = load_classes(ROOT / "arch", ["simba_small"])
    df, _ = build_table(policy_models(hidden, M), classes, "zigzag", DEFAULT_OBJECTIVE, 1, tmp_path,
                        settings=FAST, progress=False)
    c = policy_decision_cost(df, hidden, M)
    lone_c, lone_e = c.of(1)
    macs = sum(layer.macs for layer in policy_models(hidden, M)[0].layers)
    # a step cannot beat the MAC array's peak, and a lone step (all weights from DRAM) costs far more energy
    assert c.step_cycles >= macs / sa_class("simba_small").peak_macs_per_cycle
    assert c.step_energy_pj < lone_e / 5
    assert c.fixed_energy_pj > c.step_energy_pj and c.step_cycles < lone_c


def test_class_problems_known_without_running_zigzag():
    from characterize.backends.class_checks import class_problems

    assert all(class_problems("zigzag", sa_class(c)) == [] for c in CLASSES)
    os_ = sa_class("eyeriss_small").model_copy(update={"dataflow": Dataflow.OUTPUT_STATIONARY})
    assert [f for f, _ in class_problems("zigzag", os_)] == ["dataflow"]
    with pytest.raises(ValueError):  # what the translation would refuse
        spatial_mapping_for(os_, TINY)
    rs4 = sa_class("eyeriss_small").model_copy(update={"macs_per_pe": 4, "vector": PEArray(rows=2, cols=2)})
    assert [f for f, _ in class_problems("zigzag", rs4)] == ["macs_per_pe"]
    with pytest.raises(ValueError):
        spatial_mapping_for(rs4, TINY)


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_characterize_reports_a_zigzag_failure_as_an_input_error(tmp_path, capsys, jobs):
    """A class ZigZag finds no mapping for (a 1-byte global buffer): exit 2 naming class and layer, no table."""
    from relmas.cli import main

    arch, layers = tmp_path / "arch", tmp_path / "layers"
    arch.mkdir()
    layers.mkdir()
    text = (ROOT / "arch/eyeriss_small.yaml").read_text()
    (arch / "eyeriss_small.yaml").write_text(text.replace("size_bytes: 65536", "size_bytes: 1"))
    (layers / "tiny.yaml").write_text("name: tiny\nsource: {variant: toy, reference: test}\nlayers:\n"
                                      "  - {name: a, op: conv, C: 8, K: 16, R: 3, S: 3, P: 8, Q: 8, padding: 1}\n")
    out = tmp_path / "t.csv"
    rc = main(["characterize", "--arch-dir", str(arch), "--layers-dir", str(layers), "--cache-dir",
               str(tmp_path / "cache"), "-o", str(out), "-j", str(jobs), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and not out.exists()
    assert f"{arch / 'eyeriss_small.yaml'}: " in err and "layer tiny/a" in err
    assert "NoValidLoopOrderingFoundException" in err and "Traceback" not in err
