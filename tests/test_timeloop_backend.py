"""Timeloop inputs (characterize.timeloop_spec), the timeloop backend and `relmas timeloop-inputs`.

The spec and CLI tests need no Timeloop. The tests marked ``timeloop`` run the
real ``timeloop-mapper`` (and ``accelergy``) and skip where they are not on PATH
(install them with ../shared/tools/timeloop/install.sh, the Docker image or a
source build; see docs/timeloop.md).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from characterize import timeloop_spec as ts
from characterize.backends import get_backend
from characterize.backends.timeloop_backend import INSTALL_HINT, TimeloopBackend
from characterize.errors import BackendUnavailable
from characterize.schema import Dataflow, Layer, load_model, load_sa_class
from characterize.timeloop_parse import parse_map_txt, parse_stats
from relmas.cli import main

ROOT = Path(__file__).resolve().parents[1]
ARCH = ROOT / "arch"
CLASSES = ["eyeriss_small", "eyeriss_large", "simba_small", "simba_large"]
HAVE_TIMELOOP = all(shutil.which(t) for t in ("timeloop-mapper", "timeloop-model", "accelergy"))
needs_timeloop = pytest.mark.skipif(not HAVE_TIMELOOP,
                                    reason="timeloop-mapper / timeloop-model / accelergy not on PATH")

# A small 3x3 convolution: 8 -> 16 channels, 8x8 output, padding 1 (73,728 MACs).
SMALL = Layer(name="small", op="conv", C=8, K=16, R=3, S=3, P=8, Q=8, padding=1)
# Bounded search for the tests (the defaults search longer); still a real Timeloop run.
FAST = {"victory_condition": 30, "search_size": 200, "timeout": 1000}


def sa(name: str):
    return load_sa_class(ARCH / f"{name}.yaml")


# --------------------------------------------------------------------------- #
# Architecture, constraints, problems (no Timeloop needed)


def _walk(node, path=()):
    """Yield (path of subtree names, component) for every local component."""
    for comp in node.get("local", []):
        yield path, comp
    for sub in node.get("subtree", []):
        yield from _walk(sub, path + (sub["name"],))


@pytest.mark.parametrize("name", CLASSES)
def test_arch_spec_structure(name):
    c = sa(name)
    spec = ts.arch_spec(c)
    assert spec["architecture"]["version"] == 0.3
    comps = {comp["name"].split("[")[0]: (path, comp) for path, comp in _walk(spec["architecture"])}
    # DRAM -> global buffer -> (DummyBuffer) -> PE[..] scratchpads -> MACs
    path, dram = comps["DRAM"]
    assert dram["class"] == "DRAM"
    assert not {"read_bandwidth", "write_bandwidth", "shared_bandwidth"} & set(dram["attributes"])  # stall-free
    path, glb = comps[c.global_buffer.name]
    assert glb["attributes"]["depth"] * glb["attributes"]["width"] == c.global_buffer.size_bytes * 8
    pes = c.pe_array.rows * c.pe_array.cols
    for mem in c.pe_buffers:
        path, comp = comps[mem.name]
        assert path[-1] == f"PE[0..{pes - 1}]"
        assert comp["attributes"]["meshX"] == c.pe_array.cols
        assert comp["attributes"]["depth"] * comp["attributes"]["width"] <= mem.size_bytes * 8
    path, mac = comps["mac"]
    assert mac["class"] == "intmac"
    if c.macs_per_pe > 1:
        assert mac["name"] == f"mac[0..{c.macs_per_pe - 1}]"
        assert mac["attributes"]["meshX"] == c.pe_array.cols * c.vector.cols
    assert ("DummyBuffer" in comps) == (c.dataflow == Dataflow.ROW_STATIONARY)


def test_search_architecture_limits_dram_only_for_the_search(tmp_path):
    c = sa("simba_small")
    limited = ts.arch_spec(c, dram_bytes_per_cycle=16.0)["architecture"]["subtree"][0]["local"][0]
    assert limited["name"] == "DRAM" and limited["attributes"]["shared_bandwidth"] == 16.0   # 8-bit words
    files = ts.write_arch_dir(c, tmp_path / "a", ts.MapperSettings(search_dram_bandwidth=16.0))
    assert "shared_bandwidth" in (tmp_path / "a" / "arch.yaml").read_text()
    stall_free = yaml.safe_load((tmp_path / "a" / "stall_free" / "arch.yaml").read_text())
    assert "shared_bandwidth" not in stall_free["architecture"]["subtree"][0]["local"][0]["attributes"]
    assert [f.name for f in files] == ["arch.yaml", "relmas_storage.yaml", "constraints.yaml", "mapper.yaml"]
    ts.write_arch_dir(c, tmp_path / "b", ts.MapperSettings(search_dram_bandwidth=0))
    assert not (tmp_path / "b" / "stall_free").exists()
    assert "shared_bandwidth" not in (tmp_path / "b" / "arch.yaml").read_text().split("DRAM", 2)[-1][:300]


def test_word_sizes_and_blocks():
    t = ts.translate(sa("eyeriss_small"))
    psum = next(lvl for lvl in t.pe_levels if lvl.holds == ("Outputs",))
    assert psum.word_bits == 24 and psum.block_size == 1 and psum.depth == 5   # 16 B of 24-bit psums
    assert t.glb.word_bits == 8 and t.glb.block_size == 8 and t.glb.size_words == 65536
    assert [lvl.holds for lvl in t.pe_levels] == [("Inputs",), ("Weights",), ("Outputs",)]  # outer -> inner
    t = ts.translate(sa("simba_large"))
    acc = t.pe_levels[-1]
    assert acc.name == "accumulation_buffer" and acc.word_bits == 24 and acc.block_size == 4
    w = next(lvl for lvl in t.pe_levels if lvl.holds == ("Weights",))
    assert w.block_size == 16 and w.size_words == 16384


def _targets(c):
    return ts.constraints_spec(c)["architecture_constraints"]["targets"]


def test_row_stationary_constraints():
    cons = _targets(sa("eyeriss_small"))
    dummy = next(t for t in cons if t["target"] == "DummyBuffer" and t["type"] == "spatial")
    # filter rows R (whole), then C, M, G on the rows (Y: nothing before the split)
    assert dummy["split"] == 0 and dummy["permutation"].startswith("RCMG")
    assert "R=0" in dummy["factors"] and "S=1" in dummy["factors"] and "P=1" in dummy["factors"]
    glb = next(t for t in cons if t["target"] == "glb" and t["type"] == "spatial")
    assert glb["permutation"][: glb["split"]] == "PMGN"    # output rows P (then M, G, N) on the columns
    assert "R=1" in glb["factors"] and "C=1" in glb["factors"]
    bypass = {t["target"]: t for t in cons if t["type"] == "bypass"}
    assert bypass["glb"]["bypass"] == ["Weights"]         # weights go from DRAM straight to the PEs
    assert bypass["DummyBuffer"]["keep"] == []
    wsp = next(t for t in cons if t["target"] == "weight_spad" and t["type"] == "temporal")
    assert wsp["permutation"].endswith("CS") and "R=1" in wsp["factors"]   # one filter row x channels


def test_weight_stationary_constraints():
    cons = _targets(sa("simba_small"))
    sp = {t["target"]: t for t in cons if t["type"] == "spatial"}
    for level in ("glb", "accumulation_buffer"):   # PE array, then the 4x4 vector inside each PE
        t = sp[level]
        assert t["permutation"][: t["split"]] == "MG" and t["permutation"][t["split"]] == "C"
        for d in "RSNPQ":
            assert f"{d}=1" in t["factors"]


def test_problem_spec():
    conv = Layer(name="c", op="conv", C=64, K=128, R=3, S=5, P=28, Q=14, stride=(2, 1), padding=1)
    inst = ts.problem_spec(conv)["problem"]["instance"]
    assert inst == {"G": 1, "C": 64, "M": 128, "R": 3, "S": 5, "N": 1, "P": 28, "Q": 14,
                    "Hstride": 2, "Wstride": 1, "Hdilation": 1, "Wdilation": 1}
    dw = Layer(name="d", op="dwconv", C=32, K=32, R=3, S=3, P=7, Q=7, groups=32)
    inst = ts.problem_spec(dw)["problem"]["instance"]
    assert (inst["G"], inst["C"], inst["M"]) == (32, 1, 1)
    shape = ts.problem_spec(dw)["problem"]["shape"]
    inputs = next(d for d in shape["data-spaces"] if d["name"] == "Inputs")
    assert [["R", "Hdilation"], ["P", "Hstride"]] in inputs["projection"]   # R and P pair with stride[0]


def test_choose_spatial():
    conv3 = Layer(name="conv3", op="conv", C=256, K=384, R=3, S=3, P=13, Q=13, padding=1)
    util, (rows, cols) = ts.choose_spatial(sa("eyeriss_small"), conv3)
    # 16 rows: R=3 whole x C=4 (12 rows; 5 divides neither 256 nor 384); 16 columns: M=16
    assert rows == {"R": 3, "C": 4, "M": 1, "G": 1} and cols == {"P": 1, "M": 16, "G": 1, "N": 1}
    assert util == pytest.approx(0.75)
    util, axes = ts.choose_spatial(sa("simba_small"), conv3)
    assert util == 1.0 and axes == [{"C": 4}, {"M": 4, "G": 1}, {"C": 4}, {"M": 4, "G": 1}]
    dw = Layer(name="dw", op="dwconv", C=144, K=144, R=3, S=3, P=28, Q=28, groups=144, padding=1)
    util, axes = ts.choose_spatial(sa("simba_small"), dw)
    assert util == pytest.approx(16 / 256) and axes[1] == {"M": 1, "G": 4}   # groups on the K lanes only
    big = Layer(name="big", op="conv", C=3, K=8, R=17, S=3, P=8, Q=8)
    with pytest.raises(ValueError, match="R = 17"):
        ts.choose_spatial(sa("eyeriss_small"), big)


def test_spatial_constraints_do_not_repeat_class_factors():
    spec = ts.spatial_constraints_spec(sa("eyeriss_small"), SMALL)["mapspace_constraints"]["targets"]
    by = {t["target"]: t["factors"] for t in spec}
    assert "R=" not in by["DummyBuffer"]          # R is spread whole by constraints.yaml (R=0)
    assert set(by) == {"DummyBuffer", "glb"}


def test_mapper_spec_objectives_and_settings():
    assert ts.mapper_spec(objective="latency")["mapper"]["optimization-metrics"] == ["delay", "energy"]
    assert ts.mapper_spec(objective="energy")["mapper"]["optimization-metrics"] == ["energy", "delay"]
    assert ts.mapper_spec(objective="edp")["mapper"]["optimization-metrics"] == ["edp"]
    m = ts.mapper_spec(ts.MapperSettings(threads=1, victory_condition=7))["mapper"]
    assert m["num-threads"] == 1 and m["victory-condition"] == 7 and m["sync-interval"] == 0
    with pytest.raises(ValueError, match="threads"):
        ts.MapperSettings(threads=0)
    with pytest.raises(ValueError, match="algorithm"):
        ts.MapperSettings(algorithm="genetic")
    with pytest.raises(ValueError, match="objective"):
        ts.mapper_spec(objective="speed")


def test_backend_settings_are_the_cache_key():
    b = TimeloopBackend(objective="edp", victory_condition=50, wall_timeout_s=10, keep_dir=None)
    s = b.settings()
    assert s["objective"] == "edp" and s["victory_condition"] == 50 and s["threads"] == 1
    assert s["energy"] == "accelergy" and "translation_version" in s
    assert "wall_timeout_s" not in s and "keep_dir" not in s     # never change a result
    with pytest.raises(ValueError, match="unknown timeloop backend setting"):
        TimeloopBackend(seed=3)
    with pytest.raises(ValueError, match="energy"):
        TimeloopBackend(energy="guess")


def test_class_ert_uses_class_energies():
    c = sa("simba_small")
    ert = {t["name"]: {a["name"]: a["energy"] for a in t["actions"]} for t in ts.class_ert(c)["ERT"]["tables"]}
    assert ert["system.DRAM"]["read"] == pytest.approx(20.0 * 64)   # 20 pJ/bit x 64-bit access
    assert ert["system.simba_small.glb"]["read"] == pytest.approx(20.0)
    assert ert["system.simba_small.PE[0..15].mac[0..15]"]["mac_random"] == pytest.approx(0.23)


def test_reserved_buffer_name_is_refused():
    data = yaml.safe_load((ARCH / "simba_small.yaml").read_text())
    data["pe_buffers"][0]["name"] = "DummyBuffer"  # "DRAM" is refused by the schema already
    from characterize.schema import SAClass
    with pytest.raises(ValueError, match="reserved"):
        ts.arch_spec(SAClass.model_validate(data))


# --------------------------------------------------------------------------- #
# Availability


def test_unavailable_without_timeloop_on_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackendUnavailable) as exc:
        get_backend("timeloop")
    msg = str(exc.value)
    assert "timeloop-mapper" in msg and "accelergy" in msg
    assert "timeloopaccelergy/accelergy-timeloop-infrastructure" in msg
    assert "https://github.com/NVlabs/timeloop" in msg
    assert INSTALL_HINT in msg


def test_cli_backend_timeloop_without_timeloop(tmp_path):
    """`relmas characterize --backend timeloop` in a process whose PATH lacks Timeloop: exit 3 + hint."""
    bare = tmp_path / "bin"
    bare.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
    env["PATH"] = str(bare)
    layers = _tiny_model_dir(tmp_path)
    r = subprocess.run([sys.executable, "-m", "relmas", "characterize", "--backend", "timeloop",
                        "--arch-dir", str(ARCH), "--layers-dir", str(layers), "--classes", "simba_small",
                        "-o", str(tmp_path / "t.csv"), "--cache-dir", str(tmp_path / "cache"), "-j", "1"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 3, r.stderr
    assert "timeloop-mapper" in r.stderr and "timeloopaccelergy/accelergy-timeloop-infrastructure" in r.stderr
    assert not (tmp_path / "t.csv").exists()


# --------------------------------------------------------------------------- #
# relmas timeloop-inputs


def _tiny_model_dir(tmp_path: Path) -> Path:
    d = tmp_path / "layers"
    d.mkdir(exist_ok=True)
    (d / "tiny.yaml").write_text(yaml.safe_dump({
        "name": "tiny",
        "description": "two small layers for the Timeloop tests",
        "source": {"variant": "test", "reference": "tests/test_timeloop_backend.py"},
        "layers": [
            {"name": "conv1", "op": "conv", "C": 8, "K": 16, "R": 3, "S": 3, "P": 8, "Q": 8, "padding": 1},
            {"name": "dw/2", "op": "dwconv", "C": 16, "K": 16, "R": 3, "S": 3, "P": 4, "Q": 4, "stride": 2,
             "groups": 16, "after": ["conv1"]},
        ],
    }, sort_keys=False))
    load_model(d / "tiny.yaml")
    return d


def test_timeloop_inputs_cli(tmp_path, capsys):
    layers = _tiny_model_dir(tmp_path)
    out = tmp_path / "tl"
    rc = main(["timeloop-inputs", "--arch-dir", str(ARCH), "--layers-dir", str(layers), "-o", str(out)])
    assert rc == 0
    assert "4 SA classes" in capsys.readouterr().out
    for c in CLASSES:
        for f in ("arch.yaml", "constraints.yaml", "mapper.yaml", "components/relmas_storage.yaml"):
            data = yaml.safe_load((out / "arch" / c / f).read_text())
            assert isinstance(data, dict) and data
        assert (out / "spatial" / c / "tiny" / "conv1.yaml").is_file()
        assert (out / "spatial" / c / "tiny" / "dw_2.yaml").is_file()      # '/' made file-safe
    prob = yaml.safe_load((out / "problems" / "tiny" / "dw_2.yaml").read_text())["problem"]["instance"]
    assert (prob["G"], prob["C"], prob["M"], prob["Hstride"]) == (16, 1, 1, 2)
    readme = (out / "README.txt").read_text()
    assert "timeloop-mapper ../../../../arch/eyeriss_large/*.yaml ../../../../arch/eyeriss_large/components/*.yaml" \
        in readme
    assert "problems/tiny/conv1.yaml" in readme
    assert not list(out.rglob(".*.tmp")) and not list(out.rglob(".*.yaml.*"))   # atomic writes leave nothing


def test_timeloop_inputs_cli_errors(tmp_path, capsys):
    layers = _tiny_model_dir(tmp_path)
    rc = main(["timeloop-inputs", "--arch-dir", str(ARCH), "--layers-dir", str(layers), "--classes", "nope",
               "-o", str(tmp_path / "o")])
    assert rc == 2 and "no SA class 'nope'" in capsys.readouterr().err
    rc = main(["timeloop-inputs", "--arch-dir", str(ARCH), "--layers-dir", str(tmp_path / "none"),
               "-o", str(tmp_path / "o")])
    assert rc == 2


def test_timeloop_inputs_class_energy(tmp_path):
    layers = _tiny_model_dir(tmp_path)
    out = tmp_path / "tl"
    assert main(["timeloop-inputs", "--arch-dir", str(ARCH), "--layers-dir", str(layers), "--classes",
                 "simba_small", "--energy", "class", "--objective", "edp", "-o", str(out)]) == 0
    ert = yaml.safe_load((out / "arch" / "simba_small" / "ERT.yaml").read_text())
    assert ert["ERT"]["version"] == 0.3
    mapper = yaml.safe_load((out / "arch" / "simba_small" / "mapper.yaml").read_text())
    assert mapper["mapper"]["optimization-metrics"] == ["edp"]


# --------------------------------------------------------------------------- #
# Real Timeloop runs


def _check_physics(c, layer, cost):
    peak = c.pe_array.rows * c.pe_array.cols * c.macs_per_pe
    assert cost.cycles >= layer.macs / peak                 # no more than the peak MACs per cycle
    assert cost.cycles <= layer.macs                        # at least one MAC per cycle
    assert 0 < cost.utilization <= 1
    ih, iw = (layer.P - 1) * layer.stride[0] + layer.R, (layer.Q - 1) * layer.stride[1] + layer.S
    weights = layer.K * (layer.C // layer.groups) * layer.R * layer.S
    # Every weight and (padded) input is read from DRAM at least once, every output written once (8-bit).
    assert cost.dram_read_bytes >= weights + layer.C * ih * iw
    assert cost.dram_write_bytes >= layer.K * layer.P * layer.Q
    assert cost.energy_pj > layer.macs * 0.01


@needs_timeloop
@pytest.mark.timeloop
@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSES)
def test_real_timeloop_small_layer(name, tmp_path):
    c = sa(name)
    b = TimeloopBackend(objective="latency", keep_dir=str(tmp_path), **FAST)
    cost = b.evaluate(c, SMALL)
    _check_physics(c, SMALL, cost)
    d = cost.details
    run = Path(d["workdir"]) / "run"
    stats = parse_stats(run)
    assert stats.computes == SMALL.macs
    # reported cycles: the chosen mapping re-evaluated without a DRAM limit (stall-free)
    assert parse_stats(run / "stall_free" / "timeloop-model.stats.txt").cycles == cost.cycles
    assert d["search_cycles"] == stats.cycles >= cost.cycles
    assert set(d["energy_estimators"]) >= {"Aladdin_table"}
    levels = {lv.name: lv for lv in parse_map_txt(run)}
    if c.dataflow == Dataflow.ROW_STATIONARY:
        # filter rows R spread over the PE rows (Spatial-Y), as in the mapping Timeloop chose
        assert levels["DummyBuffer"].spatial_factors("Y").get("R") == SMALL.R
        assert "for R in [0:3) (Spatial-Y)" in d["mapping"]
        assert not levels["DummyBuffer"].spatial_factors("X")
    else:
        # input channels C on the rows (Y), output channels M on the columns (X), PE array and vector
        for lvl in ("glb", "accumulation_buffer"):
            assert set(levels[lvl].spatial_factors("Y")) == {"C"}
            assert set(levels[lvl].spatial_factors("X")) == {"M"}
        assert "(Spatial-Y)" in d["mapping"] and "for M in [0:4) (Spatial-X)" in d["mapping"]


@needs_timeloop
@pytest.mark.timeloop
@pytest.mark.slow
def test_real_timeloop_is_deterministic_and_class_energy():
    c = sa("simba_small")
    b = TimeloopBackend(objective="latency", energy="class", **FAST)
    one, two = b.evaluate(c, SMALL), b.evaluate(c, SMALL)
    assert (one.cycles, one.energy_pj, one.dram_read_bytes, one.dram_write_bytes) == \
        (two.cycles, two.energy_pj, two.dram_read_bytes, two.dram_write_bytes)
    assert one.details["mapping"] == two.details["mapping"]
    e = one.details["energy_by_level_pj"]
    words = sum(v["read"] + v["write"] for v in one.details["dram_words"].values())
    # energy="class": the class file's figures, 20 pJ/bit DRAM, 0.23 pJ per MAC
    assert e["DRAM"] == pytest.approx(words * 8 * 20.0, rel=1e-6)
    assert e["mac"] == pytest.approx(SMALL.macs * 0.23, rel=1e-6)


@needs_timeloop
@pytest.mark.timeloop
@pytest.mark.slow
def test_cli_files_run_as_is_and_match_the_backend(tmp_path):
    """The README command on the CLI's files gives exactly the backend's result (same defaults)."""
    layers = _tiny_model_dir(tmp_path)
    out = tmp_path / "tl"
    assert main(["timeloop-inputs", "--arch-dir", str(ARCH), "--layers-dir", str(layers), "--classes",
                 "eyeriss_small", "-o", str(out)]) == 0
    run = out / "runs" / "eyeriss_small" / "tiny" / "conv1"
    run.mkdir(parents=True)
    (run / "tmp").mkdir()
    arch = out / "arch" / "eyeriss_small"
    cmd = ["timeloop-mapper", *map(str, sorted(arch.glob("*.yaml"))), *map(str, sorted(arch.glob("components/*.yaml"))),
           str(out / "spatial" / "eyeriss_small" / "tiny" / "conv1.yaml"), str(out / "problems" / "tiny" / "conv1.yaml")]
    env = {**os.environ, "TMPDIR": str(run / "tmp")}
    # a user whose Accelergy config names this Accelergy's plug-ins (another install may have rewritten ~/.config)
    from characterize.backends.timeloop_backend import _accelergy_home

    home = _accelergy_home(tmp_path / "home")
    if home is not None:
        env["HOME"] = str(home)
    r = subprocess.run(cmd, cwd=run, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:]
    # Step 2 of the README: the chosen mapping on the architecture without a DRAM limit.
    cmd = ["timeloop-model", str(arch / "stall_free" / "arch.yaml"), *map(str, sorted(arch.glob("components/*.yaml"))),
           str(out / "problems" / "tiny" / "conv1.yaml"), "./timeloop-mapper.map.yaml"]
    r = subprocess.run(cmd, cwd=run, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:]
    readme = (out / "README.txt").read_text()
    assert "timeloop-model ../../../../arch/eyeriss_small/stall_free/arch.yaml" in readme
    by_hand = parse_stats(run / "timeloop-model.stats.txt")
    layer = load_model(layers / "tiny.yaml").layers[0]
    cost = TimeloopBackend(objective="latency").evaluate(sa("eyeriss_small"), layer)
    assert by_hand.cycles == cost.cycles
    assert by_hand.energy_pj == pytest.approx(cost.energy_pj, rel=1e-9)
    assert by_hand.dram_read_bytes == cost.dram_read_bytes


@needs_timeloop
@pytest.mark.timeloop
def test_accelergy_runs_with_its_own_plugins_despite_a_stale_user_config(tmp_path, monkeypatch):
    """Another install rewrote ~/.config/accelergy to point elsewhere: the backend still finds its plug-ins."""
    import characterize.backends.timeloop_backend as tb

    stale = tmp_path / "home" / ".config" / "accelergy"
    stale.mkdir(parents=True)
    (stale / "accelergy_config.yaml").write_text(
        "version: 0.3\nestimator_plug_ins: [/nonexistent/plug_ins]\nprimitive_components: [/nonexistent/libs]\n"
        "compound_components: []\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(tb, "_ERT_CACHE", {})
    tables = TimeloopBackend(objective="latency").reference_tables(sa("simba_small"))
    assert "ERT.yaml" in tables and "mac" in tables["ERT.yaml"].lower()
