"""The shipped model tables in layers/: sizes, MACs against published figures, graph structure."""
from __future__ import annotations

from pathlib import Path

import pytest

from characterize.register import register_model
from characterize.schema import load_model, model_to_dict

LAYERS = Path(__file__).resolve().parent.parent / "layers"

# name: (input C,H,W, {op: count}, expected MACs, relative tolerance, where the figure comes from)
EXPECTED = {
    # MoCA layer tables (MODELS.md section 2): exact
    "yolo_lite": ((3, 224, 224), {"conv": 7}, 240_041_984, 0.0, "MoCA yololitenet"),
    "kws": ((3, 96, 96), {"conv": 25}, 1_018_967_040, 0.0, "MoCA kwsnet"),
    "yolov2_moca": ((3, 224, 224), {"conv": 19}, 2_792_194_048, 0.0, "MoCA yolonet"),
    # torchvision documentation, GFLOPS column (which counts MACs), 2-3 significant digits
    "squeezenet": ((3, 224, 224), {"conv": 26}, 0.35e9, 0.02, "torchvision squeezenet1_1 0.35"),
    "alexnet": ((3, 224, 224), {"conv": 5, "fc": 3}, 0.71e9, 0.01, "torchvision alexnet 0.71"),
    "resnet50": ((3, 224, 224), {"conv": 53, "fc": 1}, 4.09e9, 0.005, "torchvision resnet50 4.09"),
    "googlenet": ((3, 224, 224), {"conv": 57, "fc": 1}, 1.50e9, 0.005, "torchvision googlenet 1.50"),
    "inception_v3": ((3, 299, 299), {"conv": 94, "fc": 1}, 5.71e9, 0.005, "torchvision inception_v3 5.71"),
    # Darknet cfg/yolo-voc.cfg at 416x416; checked against an independent count below
    "yolov2": ((3, 416, 416), {"conv": 23}, 14_680_167_424, 0.0, "darknet yolo-voc.cfg"),
}

PAPER_MODELS = ["squeezenet", "yolo_lite", "kws", "alexnet", "inception_v3", "resnet50", "yolov2"]


def _load(name: str):
    return load_model(LAYERS / f"{name}.yaml")


def _after(model) -> dict[str, list[str]]:
    return {layer.name: list(layer.after) for layer in model.layers}


def test_every_paper_model_is_shipped():
    shipped = {p.stem for p in LAYERS.glob("*.yaml")}
    assert set(PAPER_MODELS) <= shipped
    assert set(EXPECTED) <= shipped


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_layer_counts_and_macs(name):
    shape, ops, macs, tol, _ = EXPECTED[name]
    model = _load(name)
    counts: dict[str, int] = {}
    for layer in model.layers:
        counts[layer.op] = counts.get(layer.op, 0) + 1
    assert counts == ops
    if tol == 0.0:
        assert model.macs == macs
    else:
        assert model.macs == pytest.approx(macs, rel=tol)
    assert model.source.input == "x".join(str(d) for d in (1, *shape))
    assert model.source.variant and model.source.reference and model.description


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_input_layers_match_the_input_resolution(name):
    """Every layer reading the model input has the input's channels and a consistent spatial size."""
    (c, h, w), *_ = EXPECTED[name]
    model = _load(name)
    first = [layer for layer in model.layers if not layer.after]
    assert first, "a model has at least one layer reading its input"
    for layer in first:
        assert layer.C == c
        ih, iw = layer.input_hw
        # conv arithmetic floors: the minimal input size is within one stride of the real one
        assert ih <= h < ih + layer.stride[0] and iw <= w < iw + layer.stride[1]
    assert all(layer.N == 1 for layer in model.layers)


def test_yolov2_macs_from_the_darknet_cfg():
    """Count yolo-voc.cfg at 416x416 independently of the zoo module (29.36 BFLOPs = 2 x MACs)."""
    trunk = [(32, 3, 1), (64, 3, 1), (128, 3, 0), (64, 1, 0), (128, 3, 1), (256, 3, 0), (128, 1, 0), (256, 3, 1),
             (512, 3, 0), (256, 1, 0), (512, 3, 0), (256, 1, 0), (512, 3, 1), (1024, 3, 0), (512, 1, 0),
             (1024, 3, 0), (512, 1, 0), (1024, 3, 0)]  # (filters, size, max-pool after)
    hw, c, total = 416, 3, 0
    for k, r, pool in trunk:
        total += hw * hw * c * k * r * r
        c = k
        hw //= 2 if pool else 1
    assert hw == 13
    total += 2 * 13 * 13 * 1024 * 1024 * 9  # two 3x3x1024 detection convs
    total += 26 * 26 * 512 * 64  # passthrough 1x1 512->64 at 26x26
    total += 13 * 13 * (256 + 1024) * 1024 * 9  # 3x3x1024 after the concat
    total += 13 * 13 * 1024 * 125  # 1x1 -> 5 anchors x 25
    assert round(2 * total / 1e9, 2) == 29.36
    assert _load("yolov2").macs == total


def test_yolov2_passthrough_and_concat():
    after = _after(_load("yolov2"))
    assert after["conv21"] == ["conv13"]  # passthrough taps the 26x26x512 conv
    assert after["conv14"] == ["conv13"]  # ... which also feeds the trunk: two successors
    assert sorted(after["conv22"]) == ["conv20", "conv21"]  # route -1,-4: concat of reorg + conv20
    layers = {layer.name: layer for layer in _load("yolov2").layers}
    assert (layers["conv21"].P, layers["conv22"].C, layers["conv22"].P, layers["conv23"].K) == (26, 1280, 13, 125)


def test_moca_tables_layer_by_layer():
    """YOLO-Lite and Darknet-19 (MoCA) follow MODELS.md section 2 layer by layer, as chains."""
    yl = _load("yolo_lite")
    assert [(x.C, x.K, x.R, x.P) for x in yl.layers] == [
        (3, 16, 3, 224), (16, 32, 3, 112), (32, 64, 3, 56), (64, 128, 3, 28), (128, 128, 3, 14),
        (128, 256, 3, 7), (256, 128, 1, 7)]
    dn = _load("yolov2_moca")
    assert [(x.C, x.K, x.R, x.P) for x in dn.layers] == [
        (3, 32, 3, 224), (32, 64, 3, 112), (64, 128, 3, 56), (128, 64, 1, 56), (64, 128, 3, 56),
        (128, 256, 3, 28), (256, 128, 1, 28), (128, 256, 3, 28), (256, 512, 3, 14), (512, 256, 1, 14),
        (256, 512, 3, 14), (512, 256, 1, 14), (256, 512, 3, 14), (512, 1024, 3, 7), (1024, 512, 1, 7),
        (512, 1024, 3, 7), (1024, 512, 1, 7), (512, 1024, 3, 7), (1024, 1024, 1, 7)]
    assert all(x.stride == (1, 1) and x.padding == ((x.R - 1) // 2,) * 2 for x in dn.layers)
    for model in (yl, dn):
        for prev, layer in zip(model.layers, model.layers[1:]):
            assert layer.after == [prev.name]


def test_kws_residual_adds_are_in_the_graph():
    model = _load("kws")
    after = _after(model)
    assert after["conv1"] == [] and after["conv2"] == ["conv1"]
    for k in range(1, 12):  # block k = (conv2k, conv2k+1); its sum feeds conv2k+2
        assert after[f"conv{2 * k + 1}"] == [f"conv{2 * k}"]
        nxt = after[f"conv{2 * k + 2}"]
        assert nxt[0] == f"conv{2 * k + 1}"
        shortcut = "conv1" if k == 1 else f"conv{2 * k - 1}"
        assert shortcut in nxt, f"conv{2 * k + 2} misses the block input {shortcut}"
    assert after["conv25"] == ["conv24"]
    assert all((x.C, x.K, x.P) == (45, 45, 48) for x in model.layers[1:])


@pytest.mark.parametrize("name", ["squeezenet", "inception_v3", "googlenet"])
def test_branches_are_parallel(name):
    """Some layer joins >= 2 branches and some layers share a predecessor (they can run in parallel)."""
    model = _load(name)
    assert max(len(layer.after) for layer in model.layers) >= 2
    consumers: dict[str, list[str]] = {}
    for layer in model.layers:
        for p in layer.after:
            consumers.setdefault(p, []).append(layer.name)
    assert max(len(v) for v in consumers.values()) >= 2


def test_squeezenet_fire_module():
    after = _after(_load("squeezenet"))
    assert after["features_3_expand1x1"] == ["features_3_squeeze"]
    assert after["features_3_expand3x3"] == ["features_3_squeeze"]
    assert after["features_4_squeeze"] == ["features_3_expand1x1", "features_3_expand3x3"]


@pytest.mark.parametrize("name,block,inputs", [
    ("inception_v3", "Mixed_5c", ["Mixed_5b_branch1x1_conv", "Mixed_5b_branch5x5_2_conv",
                                  "Mixed_5b_branch3x3dbl_3_conv", "Mixed_5b_branch_pool_conv"]),
    ("googlenet", "inception4a", ["inception3b_branch1_conv", "inception3b_branch2_1_conv",
                                  "inception3b_branch3_1_conv", "inception3b_branch4_1_conv"]),
])
def test_inception_concat_of_four_branches(name, block, inputs):
    """Each branch of an Inception block reads the concat of the previous block's four branches."""
    model = _load(name)
    heads = [layer for layer in model.layers if layer.name.startswith(block + "_") and layer.after
             and not any(p.startswith(block + "_") for p in layer.after)]
    assert len(heads) == 4  # four parallel branches start from the block input
    for layer in heads:
        assert layer.after == inputs


def test_resnet_shortcuts():
    model = _load("resnet50")
    after = _after(model)
    for stage, blocks in ((1, 3), (2, 4), (3, 6), (4, 3)):
        ds, c3 = f"layer{stage}_0_downsample_0", f"layer{stage}_0_conv3"
        # projection shortcut: the block's output-consuming conv reads exactly conv3 and the projection
        consumer = f"layer{stage}_1_conv1"
        assert sorted(after[consumer]) == sorted([c3, ds])
        # the projection and the block's first conv read the same input (parallel)
        assert after[ds] == after[f"layer{stage}_0_conv1"]
        for b in range(1, blocks - 1):  # identity shortcuts: the sum carries the block input along
            nxt = after[f"layer{stage}_{b + 1}_conv1"]
            assert nxt[0] == f"layer{stage}_{b}_conv3"
            assert set(after[f"layer{stage}_{b}_conv1"]) <= set(nxt)
    assert model.layers[-1].name == "fc" and (model.layers[-1].C, model.layers[-1].K) == (2048, 1000)
    assert sorted(after["fc"])[:2] == ["layer4_0_conv3", "layer4_0_downsample_0"]


@pytest.mark.parametrize("name,source,shape", [
    ("yolo_lite", "characterize.zoo:yolo_lite", (3, 224, 224)),
    ("kws", "characterize.zoo:kws", (3, 96, 96)),
    ("squeezenet", "torchvision.models:squeezenet1_1", (3, 224, 224)),
])
def test_shipped_files_are_reproducible(name, source, shape):
    """The registration path regenerates the shipped layer table exactly (scripts/make_models.sh)."""
    shipped = model_to_dict(_load(name))
    fresh = model_to_dict(register_model(source, name, shape))
    assert fresh["layers"] == shipped["layers"]
    assert fresh["source"]["input"] == shipped["source"]["input"]
