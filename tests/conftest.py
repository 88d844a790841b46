"""Test-wide settings: one torch thread (steadier than two on a 2-core machine, and CI runs tests serially)."""
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
# Tools installed next to the interpreter (timeloop-mapper, accelergy in .venv/bin) are found
# whether or not the virtual environment is activated.
_bin = str(Path(sys.executable).parent)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass
