"""The Python example of docs/simulator.md runs as written."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import relmas.costs
from relmas.costs import ModelCost, SystemCosts
from test_baselines_sim import synthetic_costs

REPO = Path(__file__).resolve().parents[1]


def _example(name: str) -> str:
    text = (REPO / "docs" / "simulator.md").read_text()
    m = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", text, re.S)
    assert m, f"no `{name}` example in docs/simulator.md"
    return m.group(1)


def _run(code: str, capsys) -> list[str]:
    exec(compile(code, "docs/simulator.md", "exec"), {"__name__": "docs_example"})
    return capsys.readouterr().out.splitlines()


def test_python_api_example_with_the_real_table(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    if not (REPO / "outputs" / "tables" / "zigzag.csv").is_file():
        pytest.skip("needs outputs/tables/zigzag.csv (the workflow's table); the stand-in test below still runs")
    lines = _run(_example("python-api"), capsys)
    assert [x.split(":")[0] for x in lines] == ["my-edf", "fcfs-h", "prema-h"]
    assert all(re.fullmatch(r"\S+: SLA rate [01]\.\d{3} \(\d+/100 jobs\)", x) for x in lines), lines


def test_python_api_example_with_stand_in_costs(monkeypatch, capsys):
    """The same code with load_costs replaced by synthetic costs named like Light's models (no table needed)."""
    monkeypatch.chdir(REPO)
    syn = synthetic_costs(M=6)
    names = ["squeezenet", "kws", "yolo_lite"]
    models = [ModelCost(n, m.layers, m.cycles, m.bw, m.energy, m.dram_bytes, m.preds) for n, m in zip(names, syn.models)]
    stand_in = SystemCosts("stand-in", syn.sa_names, syn.sa_classes, syn.bandwidth, 0.0, models)
    monkeypatch.setattr(relmas.costs, "load_costs", lambda *a, **k: stand_in)
    lines = _run(_example("python-api"), capsys)
    assert [x.split(":")[0] for x in lines] == ["my-edf", "fcfs-h", "prema-h"]
