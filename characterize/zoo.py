"""PyTorch definitions of the shipped models that torchvision does not build.

Each public function takes no argument and returns an ``nn.Module`` in eval
mode, so that ``relmas models register characterize.zoo:<function>`` turns it
into ``layers/<name>.yaml`` (see ``scripts/make_models.sh``). Layer tables and
their sources are in ``docs/models.md`` and ``/work/shared/MODELS.md``:

* :func:`yolo_lite` - the 7-conv YOLO-Lite of the MoCA artifact
  (``yololitenet``), 224x224, last 1x1 conv to 128 channels as MoCA.
* :func:`kws` - MoCA's keyword-spotting residual network (``kwsnet``),
  96x96x3, 25 3x3 convs with 45 channels, 11 residual adds.
* :func:`yolov2` - YOLOv2 for VOC as in Darknet ``cfg/yolo-voc.cfg``
  (416x416): Darknet-19 without its classifier, three 3x3x1024 convs, a
  1x1 512->64 passthrough reorganised (space-to-depth) and concatenated,
  and a 1x1 -> 125 detection head.
* :func:`yolov2_moca` - MoCA's ``yolonet``: Darknet-19 at 224x224 with a
  last 1x1 conv 1024->1024 and no detection head.

Pooling, batch normalisation, activations and adds are part of the modules so
that the registered dependency graph is the real one; they carry no MACs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _Plan(nn.Module):
    """A feed-forward net whose convs are attributes ``conv1``, ``conv2``, ... (the layer names).

    ``plan`` lists steps: ("conv", i) runs conv{i} (+ bn{i} if present) and
    its activation, ("pool",) a 2x2/2 max-pool.
    """

    def __init__(self, leaky: bool):
        super().__init__()
        self.leaky = leaky
        self.plan: list[tuple] = []

    def _add_conv(self, i: int, c: int, k: int, size: int, bn: bool, act: bool = True) -> None:
        setattr(self, f"conv{i}", nn.Conv2d(c, k, size, stride=1, padding=size // 2, bias=not bn))
        if bn:
            setattr(self, f"bn{i}", nn.BatchNorm2d(k))
        self.plan.append(("conv", i, act))

    def _step(self, x: torch.Tensor, step: tuple) -> torch.Tensor:
        if step[0] == "pool":
            return F.max_pool2d(x, 2, 2)
        _, i, act = step
        x = getattr(self, f"conv{i}")(x)
        if hasattr(self, f"bn{i}"):
            x = getattr(self, f"bn{i}")(x)
        if act:
            x = F.leaky_relu(x, 0.1) if self.leaky else F.relu(x)
        return x

    def _run(self, x: torch.Tensor, steps: list[tuple]) -> torch.Tensor:
        for step in steps:
            x = self._step(x, step)
        return x


# --------------------------------------------------------------------------- #
# YOLO-Lite (MoCA yololitenet)


class YoloLite(_Plan):
    """Seven convs conv1..conv7, 2x2 max-pools after the first five (MoCA ``yololitenet``)."""

    CHANNELS = (16, 32, 64, 128, 128, 256)

    def __init__(self, head_channels: int = 128):
        super().__init__(leaky=False)
        c = 3
        for i, k in enumerate(self.CHANNELS, start=1):
            self._add_conv(i, c, k, 3, bn=False)
            if i <= 5:
                self.plan.append(("pool",))
            c = k
        self._add_conv(7, c, head_channels, 1, bn=False, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, self.plan)


def yolo_lite() -> nn.Module:
    """YOLO-Lite as in MoCA: 224x224x3 input, 7 convs, conv7 1x1 256->128 (240,041,984 MACs)."""
    return YoloLite(head_channels=128).eval()


# --------------------------------------------------------------------------- #
# KWS (MoCA kwsnet)


class KWSResNet(_Plan):
    """MoCA's ResNet-26-style keyword-spotting network, convs named conv1..conv25.

    conv1 3->45 (3x3, pad 1) + ReLU + 2x2 max-pool, then 11 residual blocks
    (conv2k, conv2k+1) whose output is added to the block input, then two
    plain convs conv24, conv25. No global pooling or classifier is executed in
    MoCA, so none is here.
    """

    def __init__(self, channels: int = 45, blocks: int = 11, tail: int = 2):
        super().__init__(leaky=False)
        self._add_conv(1, 3, channels, 3, bn=False)
        for i in range(2, 2 + 2 * blocks + tail):
            self._add_conv(i, channels, channels, 3, bn=False)
        self.blocks = blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(self._step(x, self.plan[0]), 2, 2)
        for b in range(self.blocks):
            y = self._step(x, self.plan[1 + 2 * b])
            y = self._step(y, self.plan[2 + 2 * b])
            x = y + x
        return self._run(x, self.plan[1 + 2 * self.blocks:])


def kws() -> nn.Module:
    """KWS as in MoCA: 96x96x3 input, 25 convs, 45 channels (1,018,967,040 MACs)."""
    return KWSResNet().eval()


# --------------------------------------------------------------------------- #
# Darknet-19 / YOLOv2

# Darknet-19 convolutional trunk (Darknet cfg/darknet19.cfg without the
# classifier): (filters, size) per conv, "M" = 2x2/2 max-pool.
_DARKNET19: list = [
    (32, 3), "M",
    (64, 3), "M",
    (128, 3), (64, 1), (128, 3), "M",
    (256, 3), (128, 1), (256, 3), "M",
    (512, 3), (256, 1), (512, 3), (256, 1), (512, 3), "M",
    (1024, 3), (512, 1), (1024, 3), (512, 1), (1024, 3),
]


def _add_darknet(net: _Plan, spec: list, c: int, first: int) -> tuple[int, int]:
    """Append Darknet convs (with BN + leaky ReLU) and pools to ``net.plan``; return (channels, next index)."""
    i = first
    for item in spec:
        if item == "M":
            net.plan.append(("pool",))
        else:
            k, size = item
            net._add_conv(i, c, k, size, bn=True)
            c, i = k, i + 1
    return c, i


class YOLOv2(_Plan):
    """YOLOv2 (Redmon & Farhadi 2017) as in Darknet ``cfg/yolo-voc.cfg``, convs conv1..conv23.

    conv1..conv18 are Darknet-19 without its classifier. conv13 (512 channels,
    26x26 at 416x416) feeds both the max-pool before conv14 and the
    passthrough conv21 (1x1 512->64), reorganised with stride 2
    (space-to-depth, 26x26x64 -> 13x13x256). conv19 and conv20 are the two
    3x3x1024 detection convs; the reorganised passthrough and conv20 are
    concatenated (route -1,-4) before conv22 (3x3x1024), and conv23 (1x1, no
    activation) gives anchors x (5 + classes) outputs.
    """

    def __init__(self, num_classes: int = 20, num_anchors: int = 5):
        super().__init__(leaky=True)
        c13, nxt = _add_darknet(self, _DARKNET19[:17], 3, 1)  # conv1..conv13, ends at 26x26
        self.n_trunk1 = len(self.plan)
        c, nxt = _add_darknet(self, _DARKNET19[17:], c13, nxt)  # pool, conv14..conv18
        self._add_conv(19, c, 1024, 3, bn=True)
        self._add_conv(20, 1024, 1024, 3, bn=True)
        self._add_conv(21, c13, 64, 1, bn=True)
        self._add_conv(22, 64 * 4 + 1024, 1024, 3, bn=True)
        self._add_conv(23, 1024, num_anchors * (5 + num_classes), 1, bn=False, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        route = self._run(x, self.plan[:self.n_trunk1])
        y = self._run(route, self.plan[self.n_trunk1:-3])  # pool, conv14..conv20
        p = F.pixel_unshuffle(self._step(route, self.plan[-3]), 2)  # conv21 + reorg
        y = self._step(torch.cat([p, y], dim=1), self.plan[-2])  # conv22
        return self._step(y, self.plan[-1])  # conv23


def yolov2() -> nn.Module:
    """YOLOv2 VOC at 416x416: 23 convs, 125-channel head (14,680,167,424 MACs)."""
    return YOLOv2(num_classes=20, num_anchors=5).eval()


class Darknet19MoCA(_Plan):
    """MoCA ``yolonet``: the 18 Darknet-19 convs plus conv19, a 1x1 1024->1024; no head, no passthrough."""

    def __init__(self, last_channels: int = 1024):
        super().__init__(leaky=True)
        c, nxt = _add_darknet(self, _DARKNET19, 3, 1)
        self._add_conv(nxt, c, last_channels, 1, bn=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, self.plan)


def yolov2_moca() -> nn.Module:
    """YOLOv2 as in MoCA: Darknet-19 backbone at 224x224, 19 convs (2,792,194,048 MACs)."""
    return Darknet19MoCA(last_channels=1024).eval()
