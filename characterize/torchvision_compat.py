"""Import torchvision next to a CPU-only torch.

The torchvision 0.28 wheel on PyPI is a CUDA build. Its C++ extension does not
load with the CPU torch wheel, so the operators it would define never exist,
and ``import torchvision`` then fails while registering fake (meta) kernels
for them::

    RuntimeError: operator torchvision::nms does not exist

Trying it shows that exactly two operators are registered unconditionally at
import time: ``torchvision::nms`` and ``torchvision::qnms`` (every other
registration is guarded by ``torchvision.extension._has_ops()``). The model
constructors (ResNet, AlexNet, SqueezeNet, Inception, GoogLeNet, ...) never
call either; only detection post-processing does. :func:`import_torchvision`
declares the missing schemas with :mod:`torch.library` (no kernel: calling
them raises a clear "no kernel" error) and imports again.
"""
from __future__ import annotations

import re
import sys
from types import ModuleType

import torch

# Schemas of the operators torchvision's C++ extension would have defined,
# as declared in torchvision/csrc/ops/nms.cpp (qnms: the quantized variant,
# same signature).
_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}

_MISSING_OP = re.compile(r"operator torchvision::(\w+) does not exist")

# The Library object must stay alive: its definitions are removed when it is
# garbage-collected.
_LIB: torch.library.Library | None = None
_DEFINED: set[str] = set()


def _forget_torchvision() -> None:
    """Drop a half-imported torchvision from ``sys.modules`` so it can be imported afresh."""
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]


def _define(op: str) -> None:
    global _LIB
    if op not in _SCHEMAS:
        raise ImportError(
            f"torchvision import needs operator torchvision::{op}, which this compatibility shim does not "
            f"know how to declare (known: {', '.join(sorted(_SCHEMAS))}); install a torchvision build that "
            "matches the installed torch"
        )
    if _LIB is None:
        _LIB = torch.library.Library("torchvision", "FRAGMENT")
    _LIB.define(_SCHEMAS[op])
    _DEFINED.add(op)


def import_torchvision() -> ModuleType:
    """Return the ``torchvision`` module, declaring missing operator schemas if needed.

    If the plain import works (a matching CPU build), nothing is declared.
    Otherwise every "operator torchvision::X does not exist" failure is
    answered by declaring X (from a fixed table of known schemas) and
    importing again. Raises ImportError if torchvision is not installed or
    fails for another reason.
    """
    if "torchvision" in sys.modules and hasattr(sys.modules["torchvision"], "models"):
        return sys.modules["torchvision"]
    for _ in range(len(_SCHEMAS) + 1):
        try:
            import torchvision  # noqa: PLC0415
            return torchvision
        except RuntimeError as exc:
            m = _MISSING_OP.search(str(exc))
            if not m:
                raise
            op = m.group(1)
            _forget_torchvision()
            if op in _DEFINED:
                raise ImportError(f"torchvision still reports torchvision::{op} missing after declaring it") from exc
            _define(op)
    raise ImportError("torchvision could not be imported: too many missing operators")  # pragma: no cover
