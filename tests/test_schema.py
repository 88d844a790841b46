"""Validation of SA class, system and model YAML: every bad input names the file and the field."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from characterize.errors import InputError
from characterize.schema import load_model, load_sa_class, load_system, load_yaml, validate_file
from relmas.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_shipped_descriptions_are_valid():
    for p in sorted((REPO / "arch").glob("*.yaml")):
        sa = load_sa_class(p)
        assert sa.peak_macs_per_cycle > 0
    classes = {p.stem: load_sa_class(p) for p in (REPO / "arch").glob("*.yaml")}
    # Paper Table 1
    assert classes["eyeriss_small"].num_pes == 256 and classes["eyeriss_large"].num_pes == 512
    assert classes["simba_small"].num_pes == 16 and classes["simba_large"].num_pes == 32
    assert classes["simba_small"].macs_per_pe == 16 and classes["eyeriss_small"].macs_per_pe == 1
    assert classes["eyeriss_small"].pe_buffer_bytes == 220 and classes["simba_large"].pe_buffer_bytes == 24 * 1024
    assert classes["simba_small"].global_buffer.size_bytes == 32 * 1024
    assert {c.dataflow.value for c in classes.values()} == {"row_stationary", "weight_stationary"}
    s = load_system(REPO / "arch/systems/relmas_6sa.yaml")
    assert len(s.accelerators) == 6 and s.bandwidth_bytes_per_cycle == 16
    fam = [c.split("_")[0] for c in s.classes]
    assert fam.count("eyeriss") == 3 and fam.count("simba") == 3 and s.classes.count("simba_small") >= 2
    assert len(load_system(REPO / "arch/systems/tiny_2sa.yaml").accelerators) == 2
    for p in sorted((REPO / "layers").glob("*.yaml")):
        assert validate_file(p) == "model"


@pytest.fixture
def arch(tmp_path) -> Path:
    d = tmp_path / "arch"
    (d / "systems").mkdir(parents=True)
    for p in (REPO / "arch").glob("*.yaml"):
        shutil.copy(p, d / p.name)
    shutil.copy(REPO / "arch/systems/tiny_2sa.yaml", d / "systems/tiny_2sa.yaml")
    return d


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("old,new,field,words", [
    ("macs_per_pe: 16", "macs_per_pe: 0", "macs_per_pe", "greater than 0"),
    ("size_bytes: 32768", "size_bytes: -5", "global_buffer.size_bytes", "greater than 0"),
    ("dataflow: weight_stationary", "dataflow: diagonal_stationary", "dataflow", "row_stationary"),
    ("macs_per_pe: 16", "macs_per_pe: sixteen", "macs_per_pe", "integer"),
    ("mac_energy_pj: 0.23", "mac_energy_pj: 0.23\nturbo: true", "turbo", "unknown field"),
    ("mac_energy_pj: 0.23\n", "", "mac_energy_pj", "missing"),
    ("holds: [weight]", "holds: [weights]", "pe_buffers[0] (weight_buffer).holds[0]", "input"),
])
def test_bad_sa_class(arch, old, new, field, words):
    _assert_class_refused(arch / "simba_small.yaml", old, new, field, words)


def _assert_class_refused(p, old, new, field, words):
    """Edit SA class file ``p`` (old -> new) and check that loading it names ``field`` with ``words``."""
    _edit(p, old, new)
    with pytest.raises(InputError) as e:
        load_sa_class(p)
    assert e.value.path == str(p) and e.value.field == field and words in e.value.message


def test_yaml_syntax_error_and_empty_file(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("name: [unclosed\n")
    with pytest.raises(InputError, match="YAML syntax error") as e:
        validate_file(p)
    assert "line" in e.value.field
    p.write_text("")
    with pytest.raises(InputError, match="empty"):
        validate_file(p)
    p.write_text("- a\n- b\n")
    with pytest.raises(InputError, match="mapping"):
        validate_file(p)


def test_yaml_never_executes_code(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text("name: !!python/object/apply:os.system ['touch pwned']\nlayers: []\n")
    with pytest.raises(InputError, match="YAML syntax error"):
        validate_file(p)
    assert not Path("pwned").exists()


def test_system_unknown_class_and_duplicates(arch):
    p = arch / "systems/tiny_2sa.yaml"
    _edit(p, "class: simba_small", "class: simba_medium")
    with pytest.raises(InputError) as e:
        load_system(p)
    assert e.value.field == "accelerators[1] (ss0).class" and "simba_medium" in e.value.message
    _edit(p, "class: simba_medium", "class: simba_small")
    _edit(p, "name: ss0", "name: es0")
    with pytest.raises(InputError, match="duplicate"):
        load_system(p)


MODEL = """name: toy
source: {variant: toy, reference: test}
layers:
  - {name: a, op: conv, C: 3, K: 8, R: 3, S: 3, P: 8, Q: 8, padding: 1}
  - {name: b, op: conv, C: 8, K: 8, R: 1, S: 1, P: 8, Q: 8, after: [a]}
  - {name: c, op: fc, C: 512, K: 10, after: [b]}
"""


@pytest.mark.parametrize("old,new,field,words", [
    ("after: [a]", "after: [zz]", "layers[1] (b).after", "unknown predecessor 'zz'"),
    ("name: a, op: conv", "name: a, op: conv, after: [c]", "layers[", "cycle"),
    ("K: 8, R: 1", "K: -8, R: 1", "layers[1] (b).K", "greater than 0"),
    ("op: fc", "op: fully_connected", "layers[2] (c).op", "conv"),
    ("C: 512", "C: 512, colour: red", "layers[2] (c).colour", "unknown field"),
    ("{name: b, op: conv, C: 8", "{name: a, op: conv, C: 8", "layers[1] (a).name", "duplicate"),
    ("P: 8, Q: 8, padding: 1", "P: 8, Q: 8, padding: 1, groups: 2", "layers[0] (a)", "groups"),
])
def test_bad_model(tmp_path, old, new, field, words):
    p = tmp_path / "toy.yaml"
    p.write_text(MODEL.replace(old, new, 1))
    with pytest.raises(InputError) as e:
        load_model(p)
    assert e.value.path == str(p) and e.value.field.startswith(field) and words in e.value.message


def test_model_ok_and_macs(tmp_path):
    p = tmp_path / "toy.yaml"
    p.write_text(MODEL)
    m = load_model(p)
    assert m.macs == 8 * 8 * 8 * 3 * 9 + 8 * 8 * 8 * 8 + 512 * 10
    assert m.predecessors() == [[], [0], [1]]


def test_validate_cli(arch, tmp_path, capsys):
    good = arch / "simba_small.yaml"
    bad = tmp_path / "toy.yaml"
    bad.write_text(MODEL.replace("after: [a]", "after: [nope]"))
    assert main(["validate", str(good), str(arch / "systems/tiny_2sa.yaml")]) == 0
    assert main(["validate", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "layers[1] (b).after" in err and "nope" in err


def test_duplicate_yaml_key_is_an_error(arch, tmp_path):
    # PyYAML alone keeps the last value of a repeated key: the first `accelerators` list would vanish.
    p = arch / "systems/tiny_2sa.yaml"
    text = p.read_text()
    p.write_text(text + "accelerators:\n  - {name: x0, class: simba_small}\n")
    first = text.splitlines().index("accelerators:") + 1
    with pytest.raises(InputError) as e:
        load_system(p)
    last = len(text.splitlines()) + 1
    assert e.value.path == str(p) and e.value.field.startswith(f"line {last},")
    assert "duplicate key 'accelerators'" in e.value.message and f"line {first}" in e.value.message
    # Inside a nested flow mapping too (a layer with K twice).
    m = tmp_path / "toy.yaml"
    m.write_text(MODEL.replace("K: 8, R: 1", "K: 8, K: 16, R: 1"))
    with pytest.raises(InputError, match="duplicate key 'K'") as e:
        load_model(m)
    assert e.value.field.startswith("line 5,")
    # YAML merge keys (<<) are not duplicates.
    m.write_text(MODEL.replace("layers:\n", "base: &b {op: conv, C: 8, K: 8}\nlayers:\n")
                 .replace("{name: b, op: conv, C: 8, K: 8,", "{<<: *b, name: b,"))
    with pytest.raises(InputError, match="unknown field") as e:  # the extra top-level key, not a duplicate
        load_model(m)
    assert e.value.field == "base"
    # An anchored mapping that merges another and is reused through an alias: PyYAML merges in place, so the
    # alias sees the merged keys beside its own (x twice); that is an override, not a duplicate.
    y = tmp_path / "merge.yaml"
    y.write_text("b: &B {x: 1, y: 2}\nc: {<<: &A {<<: *B, x: 10}}\nd: *A\n")
    assert load_yaml(y)["d"] == {"x": 10, "y": 2}
    y.write_text("b: &B {x: 1}\nc: {<<: *B, x: 2, x: 3}\n")
    with pytest.raises(InputError, match="duplicate key 'x'"):
        load_yaml(y)


def test_non_utf8_file_is_an_input_error(arch, tmp_path, capsys):
    bad = tmp_path / "toy.yaml"
    bad.write_bytes(MODEL.replace("reference: test", "reference: Universit\xe4t").encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8") as e:
        validate_file(bad)
    assert e.value.path == str(bad) and e.value.field == "line 2"
    # `relmas validate` reports it and goes on with the other files, exit status 2.
    good = arch / "simba_small.yaml"
    assert main(["validate", str(bad), str(good)]) == 2
    out, err = capsys.readouterr()
    assert f"ok    {good}" in out and str(bad) in err and "not UTF-8" in err and "Traceback" not in err


def test_typo_reported_before_the_missing_field_and_no_value_error_prefix(arch):
    p = arch / "simba_small.yaml"
    _edit(p, "macs_per_pe: 16", "mac_per_pe: 16")
    with pytest.raises(InputError) as e:
        load_sa_class(p)
    assert e.value.field == "mac_per_pe" and e.value.message == "unknown field (and 1 more error)"
    _edit(p, "mac_per_pe: 16", "macs_per_pe: 16")
    _edit(p, "vector: {rows: 4, cols: 4}", "vector: {rows: 4, cols: 2}")
    with pytest.raises(InputError) as e:
        load_sa_class(p)
    assert e.value.message.startswith("vector 4x2 does not give macs_per_pe=16")


@pytest.mark.parametrize("old,new,field,words", [
    ("name: input_spad", "name: weight_spad", "pe_buffers[1] (weight_spad).name", "already used by pe_buffers[0]"),
    ("name: psum_spad", "name: glb", "pe_buffers[2] (glb).name", "already used by global_buffer"),
    ("name: glb", "name: dram", "global_buffer.name", "reserved"),
    ("name: psum_spad", "name: DRAM", "pe_buffers[2] (DRAM).name", "reserved"),
])
def test_buffer_names_unique_and_not_dram(arch, old, new, field, words):
    # The backends key buffers by name: a second buffer of the same name would silently replace the first.
    _assert_class_refused(arch / "eyeriss_small.yaml", old, new, field, words)


@pytest.mark.parametrize("old,new,field", [
    ("read_energy_pj: 0.1914", "read_energy_pj: .inf", "pe_buffers[0] (weight_spad).read_energy_pj"),
    ("mac_energy_pj: 0.23", "mac_energy_pj: .nan", "mac_energy_pj"),
    ("frequency_ghz: 1.0", "frequency_ghz: .inf", "frequency_ghz"),
])
def test_infinite_or_nan_numbers_are_refused(arch, old, new, field):
    # (Integer fields such as size_bytes refused .inf already.)
    _assert_class_refused(arch / "eyeriss_small.yaml", old, new, field, "finite")


def test_infinite_system_bandwidth_is_refused(arch):
    s = arch / "systems/tiny_2sa.yaml"
    _edit(s, "dram_bandwidth_gbps: 16", "dram_bandwidth_gbps: .inf")
    with pytest.raises(InputError, match="finite") as e:
        load_system(s)
    assert e.value.field == "dram_bandwidth_gbps"


def test_class_clock_must_be_the_system_clock(arch, capsys):
    # The simulator counts every SA's cycles on the system clock; a class's own frequency_ghz was ignored.
    _edit(arch / "simba_small.yaml", "frequency_ghz: 1.0", "frequency_ghz: 2.0")
    s = arch / "systems/tiny_2sa.yaml"
    with pytest.raises(InputError) as e:
        load_system(s)
    assert e.value.path == str(s) and e.value.field == "frequency_ghz"
    assert "simba_small" in e.value.message and "accelerators[1] (ss0)" in e.value.message
    assert "system clock" in e.value.message
    assert main(["validate", str(s)]) == 2
    assert "system clock" in capsys.readouterr().err
    # Both at 2 GHz: fine.
    _edit(arch / "eyeriss_small.yaml", "frequency_ghz: 1.0", "frequency_ghz: 2.0")
    _edit(s, "frequency_ghz: 1.0", "frequency_ghz: 2.0")
    assert load_system(s).frequency_ghz == 2.0


@pytest.mark.parametrize("old,new,field", [
    ("dataflow: row_stationary", "dataflow: output_stationary", "dataflow"),
    ("macs_per_pe: 1", "macs_per_pe: 4\nvector: {rows: 2, cols: 2}", "macs_per_pe"),
])
def test_validate_reports_what_the_default_backend_refuses(arch, capsys, old, new, field):
    # Valid for the schema, but `relmas characterize` (zigzag) cannot map it: validate says so.
    p = arch / "eyeriss_small.yaml"
    _edit(p, old, new)
    assert load_sa_class(p).name == "eyeriss_small"
    with pytest.raises(InputError, match="zigzag backend") as e:
        validate_file(p)
    assert e.value.path == str(p) and e.value.field == field
    assert main(["validate", str(p)]) == 2
