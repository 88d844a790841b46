"""Figures and report from result CSVs and training runs: numbers computed from the inputs, not typed in."""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from relmas.cli import main
from relmas.evaluate import RESULT_COLUMNS
from relmas.learning_curves import read_runs, run_summary
from relmas.policy import Actor, EncoderSpec, macs_per_step, save_policy
from relmas.report import improvements

SCHEDS = {"herald": 0.4, "prema-h": 0.5, "magma": 0.8, "relmas": 0.8, "relmas-paper": 0.1}


def _sla(rates=SCHEDS, seeds=(1000, 1001)) -> pd.DataFrame:
    rows = []
    for w in ("light", "heavy", "mixed"):
        for q in ("low", "medium", "high"):
            for s, r in rates.items():
                for seed in seeds:
                    row = {c: 1.0 for c in RESULT_COLUMNS}
                    row.update(workload=w, qos=q, scheduler=s, seed=seed, sla_rate=r, decisions=10,
                               sched_wall_s_per_decision=0.002, sched_cpu_s_per_decision=0.001)
                    rows.append(row)
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def test_geomean_improvement_is_computed_from_the_rates():
    imp = improvements(_sla()).set_index("baseline")
    assert imp.loc["herald", "geomean_improvement"] == pytest.approx(1.0)      # 0.8 / 0.4 - 1
    assert imp.loc["prema-h", "geomean_improvement"] == pytest.approx(0.6)
    assert imp.loc["magma", "geomean_improvement"] == pytest.approx(0.0)
    assert imp.loc["magma", "mixed_diff"] == pytest.approx(0.0)
    assert imp.loc["herald", "scenarios"] == 9


def _write_run(root: Path, sched: str, scenario: str, vals: list[float], hidden: int) -> None:
    d = root / sched / scenario
    d.mkdir(parents=True)
    with open(d / "metrics.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["update", "phase", "episode", "val_sla", "wall_s", "cpu_s"])
        w.writeheader()
        for i, v in enumerate(vals):
            w.writerow({"update": 100 * i, "phase": "rl" if i else "init", "episode": i, "val_sla": v,
                        "wall_s": 120.0 * i, "cpu_s": 60.0 * i})
    spec = EncoderSpec(num_sas=6, model_names=("a", "b"), model_layers=(3, 4))
    save_policy(d / "best.pt", Actor(spec.num_features, spec.num_outputs, hidden), spec, {})


def test_runs_summary_and_report_sections(tmp_path):
    pol = tmp_path / "policies"
    _write_run(pol, "relmas", "light_medium", [0.0, 0.5, 0.9, 0.7], 128)
    _write_run(pol, "relmas-paper", "light_medium", [0.0, 0.1, 0.05], 256)
    runs = read_runs(pol)
    s = run_summary(runs).set_index("scheduler")
    assert s.loc["relmas", "best_val_sla"] == pytest.approx(0.9)
    assert s.loc["relmas", "best_at_min"] == pytest.approx(2.0)   # CPU minutes at the best point
    assert s.loc["relmas", "wall_min"] == pytest.approx(6.0)
    assert s.loc["relmas-paper", "updates"] == 200

    sla = tmp_path / "sla.csv"
    _sla().to_csv(sla, index=False)
    bw = pd.DataFrame([{"workload": "light", "scheduler": s, "bandwidth_gbps": b, "sla_rate": r * b / 16,
                        "ci95": 0.0, "sla_rate_normalised": b / 16, "ci95_normalised": 0.0}
                       for s, r in SCHEDS.items() for b in (16, 8)]
                      + [{"workload": "light", "scheduler": "never", "bandwidth_gbps": b, "sla_rate": 0.0, "ci95": 0.0,
                          "sla_rate_normalised": float("nan"), "ci95_normalised": float("nan")} for b in (16, 8)])
    bw.to_csv(tmp_path / "bw.csv", index=False)
    ov = pd.DataFrame([{"workload": "mixed", "scheduler": "relmas", "hidden": h, "period_cycles": p, "seed": 0,
                        "overhead_percent": 0.01 * h / 32, "decisions": 400 / (p / 1e5),
                        "policy_steps": 8000 / (p / 1e5), "fixed_energy_pj": 1e6 * h / 32, "step_energy_pj": 5e4}
                       for h in (32, 256) for p in (1e5, 2e5)])
    ov.to_csv(tmp_path / "ov.csv", index=False)
    figs = tmp_path / "figures"
    assert main(["figures", "--sla", str(sla), "--bandwidth", str(tmp_path / "bw.csv"), "--overhead",
                 str(tmp_path / "ov.csv"), "--policies", str(pol), "-o", str(figs)]) == 0
    for stem in ("fig3_sla", "fig4_bandwidth", "fig5_energy_overhead", "learning_curves"):
        assert (figs / f"{stem}.png").stat().st_size > 1000 and (figs / f"{stem}.pdf").is_file()
    rep = tmp_path / "report.md"
    assert main(["report", "--sla", str(sla), "--bandwidth", str(tmp_path / "bw.csv"), "--overhead",
                 str(tmp_path / "ov.csv"), "--figures", str(figs), "--policies", str(pol), "-o", str(rep),
                 "--config", str(Path(__file__).resolve().parents[1] / "config" / "config.yaml"),
                 "--preset", "smoke"]) == 0
    text = rep.read_text()
    assert "learning_curves.png" in text
    assert "budget 0.5 min of CPU time per run" in text   # the smoke preset's train.max_minutes
    m128 = macs_per_step(Actor(16, 7, 128))["total"]
    m256 = macs_per_step(Actor(16, 7, 256))["total"]
    assert f"h = 128, F = 16: **{m128:,}**" in text and f"h = 256, F = 16: **{m256:,}**" in text
    assert "| relmas | light | medium | 3.0 | 6.0 | 300 | 0.000 | 0.900 | 2.0 | rl |" in text
    assert "+100.0%" in text                      # over Herald
    assert "| relmas | 0.800 ± 0.000 | 1.000 | 2.000 |" in text   # CPU ms then wall ms per decision
    assert "Largest mean overhead: **0.080%**" in text
    assert "| never | 0.000 (—) | 0.000 (—) |" in text   # best 0: nothing to normalise by
    assert "T_s = 100,000: 400 decisions of 20.0 steps; T_s = 200,000: 200 decisions of 20.0 steps" in text
    assert "h = 32: 1.00 uJ + 0.050 uJ per step; h = 256: 8.00 uJ + 0.050 uJ per step" in text


def test_metrics_file_without_required_columns_is_named(tmp_path):
    d = tmp_path / "relmas" / "light_low"
    d.mkdir(parents=True)
    (d / "metrics.csv").write_text("update,phase\n0,init\n")
    from characterize.errors import InputError

    with pytest.raises(InputError) as e:
        read_runs(tmp_path)
    assert "metrics.csv" in str(e.value) and "wall_s" in str(e.value)
    assert run_summary(pd.DataFrame(columns=["scheduler", "workload", "qos", "update", "wall_s"])).empty


def test_missing_inputs_are_one_line_errors_and_figures_draw_what_is_given(tmp_path, capsys):
    sla = tmp_path / "sla.csv"
    _sla().to_csv(sla, index=False)
    figs = tmp_path / "figures"
    missing = tmp_path / "nonexist.csv"
    for argv in (["figures", "--sla", str(missing), "-o", str(figs)],
                 ["figures", "--sla", str(sla), "--bandwidth", str(missing), "-o", str(figs)],
                 ["report", "--sla", str(missing), "-o", str(tmp_path / "r.md")],
                 ["report", "--sla", str(sla), "--overhead", str(missing), "-o", str(tmp_path / "r.md")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"relmas: error: {missing}: file not found"], argv
    assert not figs.exists() and not (tmp_path / "r.md").exists()  # nothing drawn or written
    assert main(["figures", "-o", str(figs)]) == 2
    assert "nothing to draw" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("workload,qos\nlight,low\n")
    assert main(["figures", "--sla", str(bad), "-o", str(figs)]) == 2
    assert capsys.readouterr().err.startswith(f"relmas: error: {bad}: columns: missing column")
    # only Fig. 3
    assert main(["figures", "--sla", str(sla), "-o", str(figs)]) == 0
    assert sorted(p.name for p in figs.iterdir()) == ["fig3_sla.pdf", "fig3_sla.png"]
    # a report without --config says so instead of `?`
    rep = tmp_path / "r.md"
    assert main(["report", "--sla", str(sla), "--figures", str(figs), "-o", str(rep)]) == 0
    head = rep.read_text().splitlines()[2]
    assert head.startswith("Preset not given, system not given, table not given. ") and "?" not in head
