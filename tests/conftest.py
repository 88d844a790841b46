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


import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def analytic_light_table(tmp_path_factory) -> Path:
    """A characterisation table of the light set's models on eyeriss_small and simba_small (the tiny 2-SA
    system's classes) from an analytic stand-in backend: cycles = MACs / peak + 10, DRAM = weights + outputs.
    CLI tests that simulate use it, so they need no mapper."""
    import characterize.table as table
    from characterize.backends.base import Backend, LayerCost
    from characterize.schema import load_sa_class

    class AnalyticBackend(Backend):
        name = "analytic"

        @classmethod
        def check_available(cls) -> None:
            pass

        def version(self) -> str:
            return "analytic 1"

        def evaluate(self, sa, layer) -> LayerCost:
            return LayerCost(cycles=layer.macs / sa.peak_macs_per_cycle + 10, energy_pj=layer.macs * 1.5,
                             dram_read_bytes=layer.C * layer.K * 1.0, dram_write_bytes=layer.K * layer.P * layer.Q * 1.0,
                             utilization=0.5)

    mp = pytest.MonkeyPatch()
    mp.setattr(table, "get_backend", lambda name, objective="edp", **kw: AnalyticBackend(objective, **kw))
    try:
        tmp = tmp_path_factory.mktemp("analytic_table")
        classes = [load_sa_class(REPO / f"arch/{c}.yaml") for c in ("eyeriss_small", "simba_small")]
        models = table.load_models(REPO / "layers", ["squeezenet", "kws", "yolo_lite"])
        df, _ = table.build_table(models, classes, "analytic", jobs=1, cache_dir=tmp / "cache", progress=False)
        path = tmp / "analytic.csv"
        table.write_table(df, path)
    finally:
        mp.undo()
    return path
