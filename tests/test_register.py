"""Model registration from PyTorch factories and ONNX files, its errors, and ``relmas models``."""
from __future__ import annotations

import sys
import uuid
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import relmas.cli as cli
from characterize.errors import InputError
from characterize.register import parse_input_shape, register_model, sanitize_name
from characterize.schema import load_model, model_to_dict

# A tiny network with a stem, two parallel branches joined by a concat, a max-pool, a depthwise
# and a grouped conv, a residual add whose shortcut goes through an average pool, and a classifier.
TINY = '''
import torch
import torch.nn.functional as F
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.left = nn.Conv2d(8, 8, 1)
        self.right = nn.Conv2d(8, 8, 3, padding=1)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.g = nn.Conv2d(16, 8, 1, groups=2)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        s = F.relu(self.bn(self.stem(x)))
        cat = torch.cat([self.left(s), F.relu(self.right(s))], dim=1)
        d = self.dw(F.max_pool2d(cat, 2))
        y = self.g(d) + F.avg_pool2d(s, 2)
        return self.fc(torch.flatten(F.dropout(y, 0.5, self.training), 1))


class Branchy(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it (ONNX export route)."""

    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(3, 8, 3, padding=1)
        self.conv_b = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        y = self.conv_a(x)
        if float(y.abs().sum()) >= 0:
            y = torch.relu(y) + self.conv_b(y)
        return self.head(y.mean((2, 3)))


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(16, 32)
        self.mha = nn.MultiheadAttention(32, 4, batch_first=True)

    def forward(self, x):
        h = self.proj(x)
        return self.mha(h, h, h, need_weights=False)[0]


def tiny():
    return Tiny()


def branchy():
    return Branchy()


def attention():
    return Attention()


def not_a_module():
    return 42


def broken():
    raise ValueError("boom")


def no_compute():
    return nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))


def transposed():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ConvTranspose2d(4, 4, 2, stride=2))


def dilated():
    return nn.Conv2d(3, 4, 3, dilation=2)
'''

TINY_AFTER = {
    "stem": [], "left": ["stem"], "right": ["stem"], "dw": ["left", "right"], "g": ["dw"], "fc": ["g", "stem"],
}
# name: (op, C, K, R, P, stride, padding, groups) for a 3x16x16 input
TINY_SHAPES = {
    "stem": ("conv", 3, 8, 3, 8, (2, 2), (1, 1), 1),
    "left": ("conv", 8, 8, 1, 8, (1, 1), (0, 0), 1),
    "right": ("conv", 8, 8, 3, 8, (1, 1), (1, 1), 1),
    "dw": ("dwconv", 16, 16, 3, 4, (1, 1), (1, 1), 16),
    "g": ("gconv", 16, 8, 1, 4, (1, 1), (0, 0), 2),
    "fc": ("fc", 128, 10, 1, 1, (1, 1), (0, 0), 1),
}
TINY_MACS = (8 * 8 * 8 * 3 * 9 + 8 * 8 * 8 * 8 + 8 * 8 * 8 * 8 * 9 + 4 * 4 * 16 * 9 + 4 * 4 * 8 * 8 + 128 * 10)


@pytest.fixture
def factories(tmp_path, monkeypatch):
    """Write the factory module into a fresh folder, make it the working directory; yield its name."""
    mod = f"tinynets_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{mod}.py").write_text(TINY)
    monkeypatch.chdir(tmp_path)
    yield mod
    sys.modules.pop(mod, None)


@pytest.fixture
def relmas_main(monkeypatch):
    """``relmas.cli.main`` with only this subcommand loaded (the others are built in parallel)."""
    monkeypatch.setattr(cli, "COMMANDS", ["models"])
    monkeypatch.setattr(cli, "BENCHES", [])
    return cli.main


def _check_tiny(model):
    assert [x.name for x in model.layers] == list(TINY_AFTER)
    for layer in model.layers:
        assert layer.after == TINY_AFTER[layer.name], layer.name
        op, c, k, r, p, stride, pad, groups = TINY_SHAPES[layer.name]
        assert (layer.op, layer.C, layer.K, layer.R, layer.S, layer.P, layer.Q) == (op, c, k, r, r, p, p)
        assert (layer.stride, layer.padding, layer.groups, layer.N) == (stride, pad, groups, 1)
    assert model.macs == TINY_MACS


# --------------------------------------------------------------------------- #
# PyTorch and ONNX routes


def test_pytorch_factory_branch_concat_add_pool(factories):
    model = register_model(f"{factories}:tiny", "tiny", (3, 16, 16))
    _check_tiny(model)
    assert model.source.input == "1x3x16x16"
    assert model.source.reference == f"{factories}:tiny"


def test_onnx_file_gives_the_same_table(factories, tmp_path):
    import torch

    from_torch = register_model(f"{factories}:tiny", "tiny", (3, 16, 16))
    mod = sys.modules[factories]  # imported from the working directory by the registration
    path = tmp_path / "tiny.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter is deprecated
        torch.onnx.export(mod.tiny().eval(), (torch.zeros(1, 3, 16, 16),), str(path), dynamo=False)
    from_onnx = register_model(str(path), "tiny")
    _check_tiny(from_onnx)  # node names /stem/Conv ... give the same layer names as module paths
    assert model_to_dict(from_onnx)["layers"] == model_to_dict(from_torch)["layers"]


def test_untraceable_model_goes_through_onnx_export(factories):
    model = register_model(f"{factories}:branchy", "branchy", (3, 8, 8))
    assert [(x.name, x.op, x.after) for x in model.layers] == [
        ("conv_a", "conv", []), ("conv_b", "dwconv", ["conv_a"]), ("head", "fc", ["conv_a", "conv_b"])]


def test_attention_products_are_matmul_layers(factories):
    model = register_model(f"{factories}:attention", "attn", (10, 16))
    mm = [x for x in model.layers if x.op == "matmul"]
    assert len(mm) == 2  # scores = Q K^T and scores V, per head
    scores, context = mm
    assert (scores.N, scores.P, scores.C, scores.K) == (4, 10, 8, 10)  # 4 heads, 10 tokens, head dim 8
    assert (context.N, context.P, context.C, context.K) == (4, 10, 10, 8)
    assert scores.name in context.after
    proj = model.layers[0]
    assert (proj.name, proj.op, proj.N, proj.P, proj.C, proj.K) == ("proj", "fc", 1, 10, 16, 32)


def _onnx_file(path: Path, nodes, inits, x_shape, value_info=()) -> Path:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits,
                              value_info=list(value_info))
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _w(name, *shape):
    return numpy_helper.from_array(np.zeros(shape, np.float32), name)


def test_onnx_handwritten_graph(tmp_path):
    """Unnamed nodes, SAME_UPPER padding, Gemm with transB, MatMul with a weight, symbolic batch."""
    nodes = [
        helper.make_node("Conv", ["x", "W1"], ["a"], auto_pad="SAME_UPPER", strides=[2, 2]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Conv", ["b", "W2"], ["c"], group=4, pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["c"], ["d"]),
        helper.make_node("Flatten", ["d"], ["e"]),
        helper.make_node("Gemm", ["e", "F"], ["f"], transB=1, name="classifier/fc1/Gemm"),
        helper.make_node("MatMul", ["f", "M"], ["out"], name="head"),
    ]
    inits = [_w("W1", 8, 3, 3, 3), _w("W2", 8, 2, 3, 3), _w("F", 5, 8), _w("M", 5, 3)]
    recorded = [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 8, 8, 8])]
    path = _onnx_file(tmp_path / "hand.onnx", nodes, inits, ["batch", 3, 15, 15], recorded)
    model = register_model(str(path), "hand")
    got = [(x.name, x.op, x.C, x.K, x.R, x.P, x.stride, x.padding, x.groups, x.after) for x in model.layers]
    assert got == [
        ("conv_0", "conv", 3, 8, 3, 8, (2, 2), (1, 1), 1, []),
        ("conv_2", "gconv", 8, 8, 3, 8, (1, 1), (1, 1), 4, ["conv_0"]),
        ("classifier_fc1", "fc", 8, 5, 1, 1, (1, 1), (0, 0), 1, ["conv_2"]),
        ("head", "fc", 5, 3, 1, 1, (1, 1), (0, 0), 1, ["classifier_fc1"]),
    ]
    assert model.source.input == "1x3x15x15"
    # --input overrides the declared shape, and the shapes recorded for the old size
    bigger = register_model(str(path), "hand", (3, 31, 31))
    assert [x.P for x in bigger.layers[:2]] == [16, 16] and bigger.source.input == "1x3x31x31"
    with pytest.raises(InputError, match="rank 4, --input gives rank 3"):
        register_model(str(path), "hand", (31, 31))


def test_onnx_shapes_unknown_to_shape_inference_are_computed(tmp_path):
    """A Reshape whose target is computed (ReduceProd of a Shape) defeats ONNX shape inference."""
    nodes = [
        helper.make_node("Conv", ["x", "W"], ["y"], name="c1"),
        helper.make_node("Relu", ["y"], ["r"]),
        helper.make_node("Shape", ["r"], ["s"]),
        helper.make_node("Slice", ["s", "st", "en"], ["s2"]),
        helper.make_node("ReduceProd", ["s2"], ["p"], keepdims=1),
        helper.make_node("Concat", ["one", "p"], ["shape"], axis=0),
        helper.make_node("Reshape", ["r", "shape"], ["flat"]),
        helper.make_node("Gemm", ["flat", "F"], ["out"], transB=1, name="fc"),
    ]
    ints = [numpy_helper.from_array(np.array([v], np.int64), n) for n, v in (("one", 1), ("st", 1), ("en", 4))]
    path = _onnx_file(tmp_path / "dyn.onnx", nodes, [_w("W", 8, 3, 3, 3), _w("F", 10, 288), *ints], [1, 3, 8, 8])
    inferred = onnx.shape_inference.infer_shapes(onnx.load(str(path)), data_prop=True)
    flat = [v for v in inferred.graph.value_info if v.name == "flat"]
    assert not flat or not flat[0].type.tensor_type.shape.dim[1].HasField("dim_value")  # really unknown
    model = register_model(str(path), "dyn")
    assert [(x.name, x.op, x.C, x.K, x.after) for x in model.layers] == [
        ("c1", "conv", 3, 8, []), ("fc", "fc", 288, 10, ["c1"])]


# --------------------------------------------------------------------------- #
# Errors


def _raises(source, match, name="m", shape=None):
    with pytest.raises(InputError, match=match) as info:
        register_model(source, name, shape)
    return str(info.value)


def test_missing_onnx_file(tmp_path):
    src = str(tmp_path / "nope.onnx")
    assert src in _raises(src, "file not found")


def test_file_that_is_not_onnx(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_text("this is not protobuf\n" * 10)
    assert str(bad) in _raises(str(bad), "not an ONNX model")


def test_unimportable_factory():
    msg = _raises("no_such_package_xyz.models:net", "cannot import module 'no_such_package_xyz.models'")
    assert msg.startswith("no_such_package_xyz.models:net: ")


def test_factory_errors(factories):
    assert "has no attribute 'nope'" in _raises(f"{factories}:nope", factories)
    assert "returned int, expected a torch.nn.Module" in _raises(f"{factories}:not_a_module", factories)
    assert "ValueError: boom" in _raises(f"{factories}:broken", "calling the factory failed")
    assert "no compute layers" in _raises(f"{factories}:no_compute", f"{factories}:no_compute", shape=(3, 8, 8))
    assert "ConvTranspose" in _raises(f"{factories}:transposed", "not supported", shape=(3, 8, 8))
    assert "dilation" in _raises(f"{factories}:dilated", "dilated convolution", shape=(3, 8, 8))
    assert "--input" in _raises(f"{factories}:tiny", "input failed", shape=(5, 16, 16))


def test_bad_source_name_and_input():
    _raises("model.pt", "expected an ONNX file")
    _raises("characterize.zoo:yolo_lite", "not a valid model name", name="../evil")
    for text in ("3x224x", "axb", "0x10x10", "1x2x3x4"):
        with pytest.raises(InputError, match="--input"):
            parse_input_shape(text)
    assert parse_input_shape("3x224x224") == (3, 224, 224)
    assert sanitize_name("layer1.0/conv1") == "layer1_0_conv1" and sanitize_name("0.conv") == "layer_0_conv"


# --------------------------------------------------------------------------- #
# CLI


def test_cli_register_list_and_force(factories, tmp_path, relmas_main, capsys):
    argv = ["models", "register", f"{factories}:tiny", "--name", "tiny", "--input", "3x16x16",
            "--variant", "a tiny test net", "--reference", "tests/test_register.py"]
    assert relmas_main(argv) == 0
    out_file = tmp_path / "layers" / "tiny.yaml"
    model = load_model(out_file)
    _check_tiny(model)
    assert model.source.variant == "a tiny test net"
    assert "tiny: 6 layers" in capsys.readouterr().out

    before = out_file.read_bytes()
    assert relmas_main(argv[:-4] + ["--variant", "changed"]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert out_file.read_bytes() == before
    assert relmas_main(argv[:-4] + ["--variant", "changed", "--force"]) == 0
    assert load_model(out_file).source.variant == "changed"
    assert not [p for p in out_file.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind

    capsys.readouterr()
    assert relmas_main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["MODEL", "LAYERS", "TYPES", "MACS", "GMACS"]
    row = lines[1].split()
    assert row[:4] == ["tiny", "6", "conv:3,dwconv:1,fc:1,gconv:1", f"{TINY_MACS:,}"]


def test_cli_errors(tmp_path, relmas_main, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert relmas_main(["models", "register", "missing.onnx", "--name", "x"]) == 2
    assert "missing.onnx: file not found" in capsys.readouterr().err
    assert not (tmp_path / "layers" / "x.yaml").exists()
    assert relmas_main(["models", "list"]) == 2  # no layers/ folder
    assert "layers: folder not found" in capsys.readouterr().err
    (tmp_path / "layers").mkdir()
    (tmp_path / "layers" / "bad.yaml").write_text("name: bad\nsource: {variant: v, reference: r}\nlayers: []\n")
    assert relmas_main(["models", "list"]) == 2
    assert "bad.yaml" in capsys.readouterr().err
    for sub in ("register", "list"):
        with pytest.raises(SystemExit) as info:
            relmas_main(["models", sub, "--help"])
        assert info.value.code == 0
        assert "--layers-dir" in capsys.readouterr().out


def test_torchvision_imports_with_cpu_torch():
    from characterize.torchvision_compat import import_torchvision

    tv = import_torchvision()
    assert callable(tv.models.squeezenet1_1)
    assert import_torchvision() is tv


def test_cli_bad_input_prints_one_clean_error(factories, relmas_main, capfd):
    # torch.fx's ShapeProp prints the failing node's traceback itself; only the clean error may reach stderr.
    assert relmas_main(["models", "register", f"{factories}:tiny", "--name", "tiny", "--input", "5x16x16"]) == 2
    err = capfd.readouterr().err
    assert "--input: running the model on a 1x5x16x16 input failed" in err
    assert "Traceback" not in err and err.count("\n") == 1
