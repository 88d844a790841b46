"""Test-wide settings: one torch thread (steadier than two on a 2-core machine, and CI runs tests serially)."""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass
