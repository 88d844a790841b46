"""``relmas replay``: the trace format, exact replays, and clear errors for bad traces."""
from __future__ import annotations

import argparse
import json
import textwrap

import pytest
import yaml

import relmas.cli as cli
from characterize.errors import InputError
from relmas.cli import replay as replay_cli
from relmas.trace import load_trace, replay

BASE = {
    "bandwidth": 16,
    "accelerators": ["sa0", "sa1"],
    "jobs": [
        {"name": "j0", "arrival": 0, "deadline": 5000, "layers": [
            {"name": "a", "cycles": [300, 900], "bandwidth": [12, 4], "sa": 0, "priority": 0.7},
        ]},
        {"name": "j1", "arrival": 0, "deadline": 5000, "layers": [
            {"name": "b", "cycles": [900, 600], "bandwidth": [4, 12], "sa": 1, "priority": 0.7},
        ]},
    ],
}


def write(tmp_path, data, name="t.yaml"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return p


def run_main(argv, monkeypatch):
    """Through the real ``relmas`` entry point (its error handling), with only ``replay`` registered
    so that the test does not depend on the other subcommands' modules."""
    monkeypatch.setattr(cli, "COMMANDS", ["replay"])
    monkeypatch.setattr(cli, "BENCHES", [])
    return cli.main(argv)


def test_contention_450_750(tmp_path, monkeypatch, capsys):
    p = write(tmp_path, BASE)
    assert run_main(["replay", str(p)], monkeypatch) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "layers": [{"job": "j0", "layer": "a", "sa": 0, "start": 0.0, "finish": 450.0},
                   {"job": "j1", "layer": "b", "sa": 1, "start": 0.0, "finish": 750.0}],
        "jobs": [{"job": "j0", "finish": 450.0, "hit": True}, {"job": "j1", "finish": 750.0, "hit": True}],
        "sla_rate": 1.0,
    }


def test_dependencies_priorities_drops(tmp_path):
    text = textwrap.dedent("""\
        bandwidth: 16
        accelerators: [sa0, sa1]
        jobs:
          - name: j0
            arrival: 0
            deadline: 5000
            layers:
              - {name: stem, cycles: [100, 100], bandwidth: [1, 1], sa: 0, priority: 1}
              - {name: left, cycles: [50, 50], bandwidth: [1, 1], sa: 0, priority: 1}
              - {name: right, cycles: [70, 70], bandwidth: [1, 1], sa: 1, priority: 1, after: [stem]}
              - {name: join, cycles: [10, 10], bandwidth: [1, 1], sa: 1, priority: 1, after: [left, right]}
          - name: j1
            arrival: 20
            deadline: 120
            layers:
              - {name: x, cycles: [10, 10], bandwidth: [1, 1], sa: 0, priority: 5}
              - {name: y, cycles: [10, 10], bandwidth: [1, 1], sa: 0, priority: 5}
          - name: j2
            arrival: 0
            deadline: 5000
            layers:
              - {name: z, cycles: [30, 30], bandwidth: [1, 1], sa: 1, after: []}
        """)
    out = replay(load_trace(write(tmp_path, text)))
    by = {(d["job"], d["layer"]): d for d in out["layers"]}
    assert [(d["job"], d["layer"]) for d in out["layers"]] == [
        ("j0", "stem"), ("j0", "left"), ("j0", "right"), ("j0", "join"), ("j1", "x"), ("j1", "y"), ("j2", "z")]
    assert (by["j0", "stem"]["start"], by["j0", "stem"]["finish"]) == (0.0, 100.0)
    # j1 arrives at 20 but SA 0 is busy until 100: x starts at 100 (priority 5 beats left), y at 110
    assert by["j1", "x"]["start"] == 100.0 and by["j1", "y"]["start"] == 110.0
    assert by["j0", "left"]["start"] == 120.0 and by["j0", "left"]["finish"] == 170.0
    assert by["j2", "z"]["start"] == 0.0 and by["j0", "right"]["start"] == 100.0
    assert by["j0", "join"]["start"] == 170.0
    jobs = {d["job"]: d for d in out["jobs"]}
    assert jobs["j1"] == {"job": "j1", "finish": 120.0, "hit": True}
    assert out["sla_rate"] == 1.0
    # tighten j1's deadline: y (ready at 110) is dropped at 110, the job has no finish and misses
    text2 = text.replace("deadline: 120", "deadline: 110")
    out = replay(load_trace(write(tmp_path, text2, "t2.yaml")))
    by = {(d["job"], d["layer"]): d for d in out["layers"]}
    assert by["j1", "y"]["start"] is None and by["j1", "y"]["finish"] is None
    assert {d["job"]: d for d in out["jobs"]}["j1"] == {"job": "j1", "finish": None, "hit": False}
    assert out["sla_rate"] == pytest.approx(2 / 3)


def test_priority_ties_follow_file_order(tmp_path):
    data = {"bandwidth": 16, "accelerators": ["sa0"], "jobs": [
        {"name": f"j{k}", "arrival": 0, "deadline": 1000,
         "layers": [{"name": "l", "cycles": [10], "bandwidth": [1], "sa": 0, "priority": 1}]} for k in range(3)]}
    out = replay(load_trace(write(tmp_path, data)))
    assert [d["start"] for d in out["layers"]] == [0.0, 10.0, 20.0]


def test_priority_ties_go_to_the_earlier_arrival_as_online(tmp_path):
    """A blocker holds the SA until 100; late (arrival 20, listed first) and early (arrival 10) then tie. The
    online simulator's tie order is job arrival first, so early starts first, whatever the file order."""
    import numpy as np

    from relmas.costs import ModelCost, SystemCosts
    from relmas.scheduler import Scheduler
    from relmas.sim.simulator import Simulator
    from relmas.workload import Workload

    lay = lambda c, p: [{"name": "a", "cycles": [c], "bandwidth": [1], "sa": 0, "priority": p},  # noqa: E731
                        {"name": "b", "cycles": [c], "bandwidth": [1], "sa": 0, "priority": p}]
    data = {"bandwidth": 16, "accelerators": ["sa0"], "jobs": [
        {"name": "late", "arrival": 20, "deadline": 1000, "layers": lay(10, 1)},
        {"name": "blocker", "arrival": 0, "deadline": 1000, "layers": lay(50, 9)},
        {"name": "early", "arrival": 10, "deadline": 1000, "layers": lay(10, 1)}]}
    out = replay(load_trace(write(tmp_path, data)))
    start = {(d["job"], d["layer"]): d["start"] for d in out["layers"]}
    assert [d["job"] for d in out["layers"]] == ["late", "late", "blocker", "blocker", "early", "early"]  # file order
    assert (start["blocker", "b"], start["early", "a"], start["early", "b"]) == (50.0, 100.0, 110.0)
    assert (start["late", "a"], start["late", "b"]) == (120.0, 130.0)

    # the same jobs online (period 10: every job has joined the queue by t = 20), equal priorities
    class Fixed(Scheduler):
        name = "fixed"

        def schedule(self, rq):
            return np.where(rq.job == 0, 9.0, 1.0), np.zeros(rq.size, np.int64)

    m = ModelCost("m", ["a", "b"], np.array([[50.0], [50.0]]), np.ones((2, 1)), np.ones((2, 1)), np.ones((2, 1)),
                  [[], [0]])
    s = ModelCost("s", ["a", "b"], np.array([[10.0], [10.0]]), np.ones((2, 1)), np.ones((2, 1)), np.ones((2, 1)),
                  [[], [0]])
    costs = SystemCosts("t", ["sa0"], ["c"], 16.0, 0.0, [m, s])
    sim = Simulator(costs, 10.0)
    sim.run(Workload(["m", "s"], np.array([0, 1, 1]), np.array([0.0, 10.0, 20.0]), np.full(3, 1000.0)), Fixed())
    rec = sim.sj_records()
    assert rec["start"].tolist() == [0.0, 50.0, 100.0, 110.0, 120.0, 130.0]  # blocker, early (job 1), late (job 2)


def mutate(path, value):
    data = json.loads(json.dumps(BASE))
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


DELETE = object()


@pytest.mark.parametrize("path,value,field,words", [
    (("jobs", 0, "layers", 0, "cycles"), [300], "jobs[0].layers[0].cycles", "one per accelerator"),
    (("jobs", 0, "layers", 0, "bandwidth"), [1, 2, 3], "jobs[0].layers[0].bandwidth", "one per accelerator"),
    (("jobs", 1, "layers", 0, "sa"), 2, "jobs[1].layers[0].sa", "out of range"),
    (("jobs", 1, "layers", 0, "sa"), -1, "jobs[1].layers[0].sa", "greater than or equal"),
    (("jobs", 0, "layers", 0, "cycles"), [-5, 3], "jobs[0].layers[0].cycles[0]", "greater than or equal"),
    (("jobs", 0, "layers", 0, "after"), ["nope"], "jobs[0].layers[0].after[0]", "unknown layer"),
    (("jobs", 0, "layers", 0, "colour"), "red", "jobs[0].layers[0].colour", "unknown field"),
    (("jobs", 0, "deadline"), DELETE, "jobs[0].deadline", "missing"),
    (("jobs", 0, "deadline"), -1, "jobs[0].deadline", "before arrival"),
    (("bandwidth",), 0, "bandwidth", "greater than 0"),
    (("jobs", 1, "name"), "j0", "jobs[1].name", "duplicate"),
])
def test_bad_traces(tmp_path, monkeypatch, capsys, path, value, field, words):
    p = write(tmp_path, mutate(path, value))
    with pytest.raises(InputError) as ei:
        load_trace(p)
    assert ei.value.field == field and ei.value.path == str(p)
    assert words in ei.value.message
    capsys.readouterr()
    assert run_main(["replay", str(p)], monkeypatch) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and str(p) in cap.err and field in cap.err


def test_dependency_cycle_and_yaml_syntax(tmp_path, monkeypatch, capsys):
    data = json.loads(json.dumps(BASE))
    data["jobs"][0]["layers"] = [
        {"name": "a", "cycles": [1, 1], "bandwidth": [1, 1], "sa": 0, "after": ["b"]},
        {"name": "b", "cycles": [1, 1], "bandwidth": [1, 1], "sa": 0},
    ]
    with pytest.raises(InputError, match="cycle: a -> b -> a") as ei:
        load_trace(write(tmp_path, data))
    assert ei.value.field == "jobs[0].layers[0].after"
    p = write(tmp_path, "bandwidth: 16\njobs: [\n", "bad.yaml")
    with pytest.raises(InputError, match="YAML syntax"):
        load_trace(p)
    assert run_main(["replay", str(p)], monkeypatch) == 2
    assert capsys.readouterr().out == ""
    assert run_main(["replay", str(tmp_path / "missing.yaml")], monkeypatch) == 2


def test_output_file_written(tmp_path, capsys):
    p = write(tmp_path, BASE)
    out = tmp_path / "sub" / "r.json"
    parser = argparse.ArgumentParser()
    replay_cli.register(parser.add_subparsers())
    args = parser.parse_args(["replay", str(p), "-o", str(out)])
    assert args.func(args) == 0
    assert json.loads(out.read_text()) == json.loads(capsys.readouterr().out)
