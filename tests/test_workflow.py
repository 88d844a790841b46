"""The Snakemake workflow: the plan, the SLURM profile, and the smoke preset run end to end.

Each test works on a copy of the workflow's inputs (Snakefile, config/, arch/,
layers/, profiles/) in a temporary folder, so outputs/ of the checkout is never
touched. The smoke run is the slowest test of the suite (a few minutes on 2
cores); it is what CI runs to show that `snakemake all` works from a clean clone.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _copy_workflow(dst: Path) -> Path:
    for name in ("Snakefile",):
        shutil.copy(ROOT / name, dst / name)
    for name in ("config", "arch", "layers", "profiles"):
        shutil.copytree(ROOT / name, dst / name)
    return dst


def _snakemake(cwd: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_plan_trains_both_recipes_and_evaluates_every_scheduler(tmp_path):
    wf = _copy_workflow(tmp_path)
    r = _snakemake(wf, "-n", "all", "--quiet", "rules")
    assert r.returncode == 0, r.stderr
    plan = r.stdout + r.stderr
    counts = {}
    for line in plan.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    # default preset: 9 scenarios x 2 learned schedulers, 9 x 8 evaluations, one sweep per scheduler
    assert counts["train"] == 18
    assert counts["evaluate"] == 72
    assert counts["bandwidth_sweep"] == 8
    for rule in ("characterize", "characterize_policy", "sla", "bandwidth", "energy_overhead", "figures", "report"):
        assert counts.get(rule) == 1, (rule, counts)


def test_evaluation_jobs_carry_their_schedulers_code_digest():
    from relmas.scheduler import scheduler_code_digest, scheduler_sources

    edf = {Path(p).name for p in scheduler_sources("edf-h")}
    assert {"edf.py", "sa_heuristic.py"} <= edf and "herald.py" not in edf
    assert "herald.py" in {Path(p).name for p in scheduler_sources("herald")}
    assert scheduler_code_digest("edf-h") != scheduler_code_digest("herald")
    assert scheduler_code_digest("edf-h") == scheduler_code_digest("edf-h")
    text = (ROOT / "Snakefile").read_text()
    assert text.count("code=scheduler_code,") == 2  # evaluate and bandwidth_sweep


def test_learned_schedulers_are_evaluated_with_their_own_policy(tmp_path):
    # the policy is passed by name, whatever else (source files) the evaluation jobs depend on
    wf = _copy_workflow(tmp_path)
    r = _snakemake(wf, "-n", "-p", "outputs/results/runs/light_low_relmas.csv",
                   "outputs/results/bandwidth_runs/relmas-paper.csv")
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "--policy relmas=outputs/policies/relmas/light_low/best.pt " in out
    assert "--policy relmas-paper=outputs/policies/relmas-paper/light_medium/best.pt " in out


def test_slurm_profile_is_a_valid_profile(tmp_path):
    wf = _copy_workflow(tmp_path)
    r = _snakemake(wf, "--profile", "profiles/slurm", "-n", "all", "--quiet", "rules")
    assert r.returncode == 0, r.stderr
    assert "train" in r.stdout + r.stderr


def test_unknown_preset_fails_clearly(tmp_path):
    wf = _copy_workflow(tmp_path)
    r = _snakemake(wf, "-n", "all", "--config", "preset=nonesuch")
    assert r.returncode != 0
    assert "nonesuch" in r.stderr + r.stdout


def test_smoke_preset_end_to_end_then_nothing_to_do(tmp_path):
    wf = _copy_workflow(tmp_path)
    r = _snakemake(wf, "-j2", "all", "--config", "preset=smoke", timeout=1500)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-6000:])
    out = wf / "outputs"
    sla = pd.read_csv(out / "results" / "sla.csv")
    assert list(sla.columns[:5]) == ["workload", "qos", "scheduler", "seed", "sla_rate"]
    assert set(sla.workload) == {"light", "heavy", "mixed"}
    assert set(sla.qos) == {"low", "medium", "high"}
    assert {"relmas", "relmas-paper", "magma", "fcfs-h"} <= set(sla.scheduler)
    assert sla.sla_rate.between(0, 1).all()
    bw = pd.read_csv(out / "results" / "bandwidth.csv")
    assert {"bandwidth_gbps", "sla_rate", "sla_rate_normalised"} <= set(bw.columns)
    ov = pd.read_csv(out / "results" / "energy_overhead.csv")
    assert (ov.overhead_percent > 0).all()
    for fig in ("fig3_sla", "fig4_bandwidth", "fig5_energy_overhead", "learning_curves"):
        for ext in ("png", "pdf"):
            assert (out / "figures" / f"{fig}.{ext}").stat().st_size > 1000
    report = (out / "report.md").read_text()
    for heading in ("Fig. 3", "Fig. 4", "Fig. 5", "Training", "MACs per policy step", "Decision cost"):
        assert heading in report, heading
    for s in ("relmas", "relmas-paper"):
        assert (out / "policies" / s / "light_medium" / "metrics.csv").is_file()
    # incremental: nothing changed, nothing to do
    r = _snakemake(wf, "-n", "all", "--config", "preset=smoke")
    assert r.returncode == 0, r.stderr
    assert "Nothing to be done" in r.stdout + r.stderr
    # a changed setting of one recipe reruns that recipe's training jobs (and what depends on them) only
    cfg = wf / "config" / "config.yaml"
    text = cfg.read_text()
    assert text.count("rl_updates: 30") == 1
    cfg.write_text(text.replace("rl_updates: 30", "rl_updates: 31"))
    r = _snakemake(wf, "-n", "all", "--config", "preset=smoke", "--quiet", "rules")
    assert r.returncode == 0, r.stderr
    counts = {p[0]: int(p[1]) for p in (line.split() for line in (r.stdout + r.stderr).splitlines())
              if len(p) == 2 and p[1].isdigit()}
    assert counts.get("train") == 9, counts  # relmas only: relmas-paper's settings did not change
