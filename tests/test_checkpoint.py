"""Checkpoints: atomic writes, weights-only loads, and a clear error naming the file for every bad one."""
from __future__ import annotations

import pickle

import pytest
import torch

from characterize.errors import InputError
from relmas import checkpoint as ck
from relmas.policy import Actor, EncoderSpec, load_policy, save_policy

SPEC = EncoderSpec(num_sas=2, model_names=("a", "b"), model_layers=(3, 4))


def test_roundtrip_plain_payload(tmp_path):
    p = tmp_path / "c.pt"
    ck.save_checkpoint(p, {"format": "x", "w": torch.arange(4.0), "meta": {"n": 2 ** 70, "t": (1, "a", None)}})
    d = ck.load_checkpoint(p, formats=("x",))
    assert d["version"] == ck.CHECKPOINT_VERSION and d["meta"]["n"] == 2 ** 70
    assert torch.equal(d["w"], torch.arange(4.0))
    assert [f.name for f in tmp_path.iterdir()] == ["c.pt"]  # no temporary file left


def test_policy_roundtrip(tmp_path):
    torch.manual_seed(0)
    actor = Actor(SPEC.num_features, SPEC.num_outputs, 8)
    p = tmp_path / "best.pt"
    save_policy(p, actor, SPEC, {"val_sla": 0.5})
    got, spec, meta = load_policy(p)
    assert spec == SPEC and meta == {"val_sla": 0.5} and got.hidden == 8
    for k, v in actor.state_dict().items():
        assert torch.equal(v, got.state_dict()[k])


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "missing"])
def test_damaged_files_name_the_file(tmp_path, damage):
    p = tmp_path / "best.pt"
    save_policy(p, Actor(SPEC.num_features, SPEC.num_outputs, 8), SPEC)
    data = p.read_bytes()
    if damage == "truncate":
        p.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        p.write_bytes(b"\x00not a checkpoint" * 50)
    elif damage == "empty":
        p.write_bytes(b"")
    else:
        p.unlink()
    with pytest.raises(InputError) as e:
        load_policy(p)
    assert e.value.path == str(p)


def test_random_bytes_are_not_a_torch_checkpoint(tmp_path):
    """Not "refused by weights-only loading" (which suggests a checkpoint holding objects): not a checkpoint."""
    p = tmp_path / "pol.pt"
    p.write_bytes(bytes((i * 97 + 13) % 256 for i in range(5000)))
    with pytest.raises(InputError) as e:
        load_policy(p)
    assert e.value.path == str(p) and "not a readable torch checkpoint" in e.value.message
    assert "weights-only" not in e.value.message


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_non_tensor_objects_are_refused_by_weights_only_loading(tmp_path):
    p = tmp_path / "evil.pt"
    torch.save({"format": "relmas-policy", "version": 1, "obj": _Evil()}, p)
    with pytest.raises(InputError) as e:
        ck.load_checkpoint(p)
    assert e.value.path == str(p) and "weights-only" in e.value.message


def test_foreign_format_and_newer_version(tmp_path):
    p = tmp_path / "a.pt"
    torch.save({"weights": torch.zeros(2)}, p)
    with pytest.raises(InputError, match="format"):
        ck.load_checkpoint(p)
    ck.save_checkpoint(p, {"format": "other"})
    with pytest.raises(InputError, match="relmas-policy"):
        load_policy(p)
    ck.save_checkpoint(p, {"format": "relmas-policy", "version": ck.CHECKPOINT_VERSION + 1})
    with pytest.raises(InputError, match="newer"):
        load_policy(p)


def test_mismatched_weights_give_a_clear_error(tmp_path):
    p = tmp_path / "best.pt"
    save_policy(p, Actor(SPEC.num_features, SPEC.num_outputs, 8), SPEC)
    d = ck.load_checkpoint(p)
    d["hidden"] = 16  # declared size no longer matches the weights
    ck.save_checkpoint(p, d)
    with pytest.raises(InputError) as e:
        load_policy(p)
    assert e.value.path == str(p) and e.value.field == "actor" and "hidden 16" in e.value.message
    del d["actor"]
    ck.save_checkpoint(p, d)
    with pytest.raises(InputError) as e:
        load_policy(p)
    assert e.value.field == "actor" and "missing" in e.value.message


def test_a_crash_while_saving_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    p = tmp_path / "last.pt"
    ck.save_checkpoint(p, {"format": "x", "v": torch.ones(3)})
    before = p.read_bytes()
    real_save = torch.save

    def dying_save(obj, fh, *a, **k):
        real_save(obj, fh, *a, **k)
        fh.truncate(10)
        raise KeyboardInterrupt  # as if killed half-way

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint(p, {"format": "x", "v": torch.zeros(3)})
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["last.pt"]
    assert torch.equal(ck.load_checkpoint(p)["v"], torch.ones(3))


def test_pickle_protocol_errors_are_wrapped(tmp_path):
    p = tmp_path / "raw.pt"
    p.write_bytes(pickle.dumps({"format": "relmas-policy"}))  # not a torch zip archive
    with pytest.raises(InputError) as e:
        ck.load_checkpoint(p)
    assert e.value.path == str(p)
