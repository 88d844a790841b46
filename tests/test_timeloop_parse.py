"""The Timeloop output parser against real Timeloop v3 output files.

The reference files are ../shared/reference/timeloop/<design>/<layer>/ (real
timeloop-mapper runs on the exercises' eyeriss_like and simba_like designs).
Every expected number below was read by hand from those files (the line is
quoted in the comment), not computed by the parser.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from characterize.timeloop_parse import (
    TimeloopOutputError,
    parse_map_txt,
    parse_map_yaml,
    parse_stats,
    spatial_axes,
)

REF = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "timeloop"
EYERISS = REF / "eyeriss_like" / "alexnet_conv3"
SIMBA = REF / "simba_like" / "resnet50_conv2_3x3"

pytestmark = pytest.mark.skipif(not (EYERISS.is_dir() and SIMBA.is_dir()),
                                reason=f"Timeloop reference outputs not found in {REF}")


# --------------------------------------------------------------------------- #
# eyeriss_like, AlexNet conv3 (C=256 M=384 R=S=3 P=Q=13), 16-bit words


def test_eyeriss_summary():
    st = parse_stats(EYERISS / "timeloop-mapper.stats.txt")
    assert st.cycles == 958464                      # "Cycles: 958464"
    assert st.summary_energy_pj == pytest.approx(940.88e6)  # "Energy: 940.88 uJ"
    assert st.utilization == pytest.approx(0.93)     # "Utilization: 0.93"
    assert st.computes == 149520384                  # "Computes = 149520384"
    assert st.total_macs == 168                      # mac "Instances : 168 (14*12)"
    assert st.utilized_macs == 156                   # mac "Utilized instances : 156"
    assert st.fj_per_compute["Total"] == pytest.approx(6292.68)


def test_eyeriss_levels_and_energy():
    st = parse_stats(EYERISS)  # a folder works too
    assert [lvl.name for lvl in st.levels] == [
        "mac", "psum_spad", "weights_spad", "ifmap_spad", "DummyBuffer", "shared_glb", "DRAM"]
    assert st.levels[0].kind == "arithmetic"
    assert st.dram.name == "DRAM" and st.dram.word_bits == 16
    e = st.energy_by_level_pj
    assert e["mac"] == pytest.approx(328997176.93)          # mac "Energy (total)"
    assert e["psum_spad"] == pytest.approx(77743076.94)
    assert e["weights_spad"] == pytest.approx(255303525.34)
    assert e["ifmap_spad"] == pytest.approx(36184047.94)
    assert e["DummyBuffer"] == 0
    assert e["shared_glb"] == pytest.approx(68789198.59 + 37568291.16)   # Inputs + Outputs
    assert e["DRAM"] == pytest.approx(113246208.00 + 14745600.00 + 8306688.00)
    # The sum of the seven figures above, done by hand: 940,883,812.90 pJ; the summary says 940.88 uJ.
    assert st.energy_pj == pytest.approx(940883812.90, abs=0.01)
    st.check_energy()
    glb = st.level("shared_glb")
    assert glb.dataspaces["Inputs"].reads == 3594240   # "Scalar reads (per-instance) : 3594240"
    assert glb.dataspaces["Inputs"].fills == 115200
    assert glb.dataspaces["Outputs"].updates == 1038336
    assert glb.specs["Read bandwidth"] == pytest.approx(16.0)
    assert glb.stats["Cycles"] == 958464


def test_eyeriss_dram_traffic():
    st = parse_stats(EYERISS)
    words = st.dram_words()
    assert words["Weights"] == {"read": 884736, "write": 0}   # Weights "Scalar reads : 884736"
    assert words["Inputs"] == {"read": 115200, "write": 0}    # Inputs "Scalar reads : 115200"
    assert words["Outputs"] == {"read": 0, "write": 64896}    # Outputs "Scalar updates : 64896"
    # 16-bit words: bytes = 2 x words
    assert st.dram_read_bytes == 2 * (884736 + 115200) == 1999872
    assert st.dram_write_bytes == 2 * 64896 == 129792


def test_eyeriss_map_txt():
    levels = parse_map_txt(EYERISS / "timeloop-mapper.map.txt")
    assert [lv.name for lv in levels] == [
        "DRAM", "shared_glb", "DummyBuffer", "ifmap_spad", "weights_spad", "psum_spad"]
    dram, glb, dummy, ifmap, wsp, psum = levels
    assert dram.tiles == {"Weights": 884736, "Inputs": 57600, "Outputs": 64896}
    assert dram.temporal_factors() == {"M": 2, "C": 16}
    assert glb.tiles == {"Inputs": 3600, "Outputs": 32448}
    assert glb.temporal_factors() == {"M": 12, "P": 13}
    assert glb.spatial_factors("X") == {"Q": 13}
    assert dummy.tiles == {}
    assert dummy.spatial_factors("Y") == {"C": 4, "S": 3}
    assert wsp.tiles == {"Weights": 192} and wsp.temporal_factors() == {"R": 3, "C": 4}
    assert psum.temporal_factors() == {"M": 16}
    assert ifmap.tiles == {"Inputs": 12}


def test_eyeriss_map_yaml():
    m = parse_map_yaml(EYERISS)
    assert m["shared_glb"]["keep"] == ["Inputs", "Outputs"] and m["shared_glb"]["bypass"] == ["Weights"]
    assert m["DRAM"]["temporal"] == {"C": 16, "M": 2, "R": 1, "S": 1, "N": 1, "P": 1, "Q": 1}
    assert spatial_axes(m, "DummyBuffer") == {"X": {}, "Y": {"S": 3, "C": 4}}   # split: 0
    assert spatial_axes(m, "shared_glb") == {"X": {"Q": 13}, "Y": {}}           # split: 1


# --------------------------------------------------------------------------- #
# simba_like, ResNet-50 conv2_x 3x3 (C=M=64 R=S=3 P=Q=56), 8-bit words


def test_simba_summary_and_energy():
    st = parse_stats(SIMBA / "timeloop-mapper.stats.txt")
    assert st.cycles == 451584                       # "Cycles: 451584"
    assert st.summary_energy_pj == pytest.approx(573.11e6)   # "Energy: 573.11 uJ"
    assert st.utilization == pytest.approx(1.00)
    assert st.computes == 115605504
    assert st.total_macs == 256 and st.utilized_macs == 256
    assert st.arithmetic.name == "LMAC"
    # Hand sum of LMAC 64831566.64, PEWeightRegs 914858.77, PEAccuBuffer 58911489.06,
    # PEWeightBuffer 23925387.76, PEInputBuffer 376580657.64, GlobalBuffer 2725809.61 + 7729710.64,
    # DRAM 9437184 + 15204352 + 12845056 = 573,106,072.12 pJ.
    assert st.energy_pj == pytest.approx(573106072.12, abs=0.01)
    st.check_energy()
    acc = st.level("PEAccuBuffer")
    assert acc.word_bits == 24 and acc.instances == 64
    assert acc.dataspaces["Outputs"].values["Scalar updates (per-instance)"] == 451584
    assert acc.dataspaces["Outputs"].updates == 451584 * 64   # x utilised instances


def test_simba_dram_traffic():
    st = parse_stats(SIMBA)
    assert st.dram_word_bits == 8
    assert st.dram_words() == {
        "Weights": {"read": 147456, "write": 0},
        "Inputs": {"read": 237568, "write": 0},
        "Outputs": {"read": 0, "write": 200704},
    }
    assert st.dram_read_bytes == 147456 + 237568 == 385024
    assert st.dram_write_bytes == 200704


def test_simba_maps():
    levels = {lv.name: lv for lv in parse_map_txt(SIMBA)}
    assert levels["GlobalBuffer"].spatial_factors("X") == {"C": 2, "M": 8}
    assert levels["PEInputBuffer"].spatial_factors("Y") == {"M": 4}
    assert levels["PEAccuBuffer"].spatial_factors("Y") == {"C": 4}
    assert levels["PEWeightRegs"].temporal_factors() == {"Q": 2, "P": 14}
    m = parse_map_yaml(SIMBA)
    assert spatial_axes(m, "GlobalBuffer") == {"X": {"C": 2, "M": 8}, "Y": {}}
    assert spatial_axes(m, "PEAccuBuffer") == {"X": {}, "Y": {"C": 4}}


# --------------------------------------------------------------------------- #
# Errors name the file


def test_missing_stats_file(tmp_path):
    with pytest.raises(TimeloopOutputError, match="stats file not found") as exc:
        parse_stats(tmp_path / "timeloop-mapper.stats.txt")
    assert str(tmp_path) in str(exc.value)


def test_truncated_stats_file(tmp_path):
    text = (EYERISS / "timeloop-mapper.stats.txt").read_text()
    cut = tmp_path / "timeloop-mapper.stats.txt"
    cut.write_text(text[: text.index("Summary Stats")])
    with pytest.raises(TimeloopOutputError, match="Cycles") as exc:
        parse_stats(cut)
    assert str(cut) in str(exc.value)


def test_not_a_stats_file(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("hello\nworld\n")
    with pytest.raises(TimeloopOutputError, match="no 'Level N' blocks"):
        parse_stats(p)


def test_inconsistent_energy_is_detected(tmp_path):
    text = (EYERISS / "timeloop-mapper.stats.txt").read_text()
    # One level's energy changed by 1 uJ: the levels no longer add up to the summary.
    bad = text.replace("Energy (total)                           : 113246208.00 pJ",
                       "Energy (total)                           : 114246208.00 pJ")
    assert bad != text
    p = tmp_path / "timeloop-mapper.stats.txt"
    p.write_text(bad)
    st = parse_stats(p)
    with pytest.raises(TimeloopOutputError, match="sum to"):
        st.check_energy()


def test_bad_map_files(tmp_path):
    p = tmp_path / "timeloop-mapper.map.txt"
    p.write_text("DRAM [ Weights:1 (1) ]\n---\n| for M in [0:2)\nnonsense line\n")
    with pytest.raises(TimeloopOutputError, match="unrecognised line") as exc:
        parse_map_txt(p)
    assert ":4:" in str(exc.value)
    y = tmp_path / "timeloop-mapper.map.yaml"
    y.write_text("mapping: {a: 1}\n")
    with pytest.raises(TimeloopOutputError, match="mapping"):
        parse_map_yaml(y)


def test_copy_of_reference_parses_identically(tmp_path):
    shutil.copy(SIMBA / "timeloop-mapper.stats.txt", tmp_path)
    assert parse_stats(tmp_path).energy_pj == parse_stats(SIMBA).energy_pj
