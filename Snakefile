# RELMAS toolkit workflow: arch/ + layers/ -> tables -> workloads -> training ->
# evaluation -> figures -> report. Every long job's wall and CPU time is recorded
# under outputs/benchmarks/ (Snakemake's benchmark files), to see where time goes. Rules are thin: each calls the `relmas` CLI;
# the logic lives in the packages. Pick the scale with a preset:
#   snakemake -j8 all                          # default preset
#   snakemake -j8 all --config preset=smoke    # tiny, minutes
#   snakemake -n all                           # show the plan
import hashlib
import json
import os
import sys
from pathlib import Path

from relmas.cli.train import train_config
from relmas.ddpg import RESUMABLE_KEYS
from relmas.config import load_config, period_setting
from relmas.scheduler import scheduler_code_digest

configfile: "config/config.yaml"
CFG = load_config("config/config.yaml", preset=config.get("preset"))
PRESET = CFG["preset"]
# Run the CLI with this interpreter, and find tools installed next to it
# (timeloop-mapper in the venv), whether or not the venv is activated.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
RELMAS = f"{sys.executable} -m relmas"

OUT = "outputs"
BACKEND = CFG["characterize"]["backend"]
OBJECTIVE = CFG["characterize"]["objective"]
TABLE_MODELS = CFG["characterize"]["models"]
# SA classes in the table (default: every class in arch/) and backend search settings (cache-key part)
TABLE_CLASSES = CFG["characterize"].get("classes") or []
CLASS_FLAG = ("--classes " + " ".join(TABLE_CLASSES)) if TABLE_CLASSES else ""
SETTINGS_FLAG = " ".join(f"--backend-set {k}={v}" for k, v in (CFG["characterize"].get("settings") or {}).items())
POLICY_H = CFG["characterize"]["policy_hidden"]
TABLE = f"{OUT}/tables/{BACKEND}.csv"
POLICY_TABLE = f"{OUT}/tables/policy.csv"

ARCH_FILES = sorted(str(p) for p in Path(CFG["arch_dir"]).glob("*.yaml")
                    if not TABLE_CLASSES or p.stem in TABLE_CLASSES)
MODEL_FILES = [f"{CFG['layers_dir']}/{m}.yaml" for m in TABLE_MODELS]


EV = CFG["evaluation"]
WORKLOADS = ["light", "heavy", "mixed"]
QOS = ["low", "medium", "high"]
SCHEDULERS = EV["schedulers"]
try:  # a digest of each evaluated scheduler's source files (a param of its evaluation jobs)
    SCHEDULER_CODE = {s: scheduler_code_digest(s) for s in SCHEDULERS}
except (KeyError, ValueError) as exc:
    raise ValueError(f"config/config.yaml: evaluation.schedulers: {exc.args[0]}") from None


def scheduler_code(wc):
    """Digest of the scheduler's code (its module and the baselines/ modules it uses): a params value, so that
    editing a scheduler reruns its evaluations, and only those, while a checkout that only touches files'
    times reruns nothing; other code changes need --forcerun (README)."""
    return SCHEDULER_CODE.get(wc.scheduler) or scheduler_code_digest(wc.scheduler)
SEEDS = " ".join(str(s) for s in EV["seeds"])
BW = EV["bandwidth"]
OV = EV["overhead"]
TRAIN_SEED = 0
SCENARIO = f"--preset {PRESET} --table {TABLE}"


LEARNED = CFG.get("learned_schedulers") or {}  # scheduler name -> training recipe
FIGURES = ["fig3_sla", "fig4_bandwidth", "fig5_energy_overhead"] + (
    ["learning_curves"] if any(s in SCHEDULERS for s in LEARNED) else [])


def train_settings(wc):
    """Digest of what a training job learns from in the configuration (the recipe's resolved train
    settings, the workload set, the period): a params value, so Snakemake reruns exactly the training
    jobs whose settings changed (the job then starts over, or continues when only max_minutes grew)."""
    train = train_config(CFG, LEARNED[wc.scheduler], []).to_dict()
    # settings that do not change what is learnt (threads, label workers, checkpoint interval) stay out
    train = {k: v for k, v in train.items() if k not in RESUMABLE_KEYS or k in ("max_minutes", "budget_clock")}
    doc = {"train": train, "seed": TRAIN_SEED, "preset": PRESET,
           "workload": (CFG.get("workloads") or {}).get(wc.workload),
           "period": period_setting(CFG, wc.workload)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def policy_of(scheduler, workload, qos):
    return f"{OUT}/policies/{scheduler}/{workload}_{qos}/best.pt"


rule all:
    input:
        TABLE,
        POLICY_TABLE,
        f"{OUT}/results/sla.csv",
        f"{OUT}/results/bandwidth.csv",
        f"{OUT}/results/energy_overhead.csv",
        expand(f"{OUT}/figures/{{fig}}.{{ext}}", fig=FIGURES, ext=["png", "pdf"]),
        f"{OUT}/report.md",


# Validate every description first: a bad file fails here with its field named.
rule validate:
    input:
        ARCH_FILES,
        CFG["system"],
        MODEL_FILES,
    output:
        touch(f"{OUT}/.validated"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{RELMAS} validate {input}"


# One job for the whole table: evaluations are cached by layer shape and run in a
# process pool of {threads} workers, so Snakemake's per-job start-up is paid once.
rule characterize:
    input:
        f"{OUT}/.validated",
        ARCH_FILES,
        MODEL_FILES,
    output:
        TABLE,
    params:
        models=" ".join(TABLE_MODELS),
    threads: min(workflow.cores, os.cpu_count() or 1)
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        f"{OUT}/logs/characterize_{BACKEND}.log",
    benchmark:
        f"{OUT}/benchmarks/characterize_{BACKEND}.tsv"
    shell:
        "{RELMAS} characterize --backend {BACKEND} --objective {OBJECTIVE} --models {params.models} {CLASS_FLAG} "
        "{SETTINGS_FLAG} -j {threads} --quiet -o {output} 2> {log}"


# The RELMAS policy's own layers (LSTM gates, two FCs) on Simba Small, for the
# decision-overhead charge and the energy-overhead figure.
rule characterize_policy:
    input:
        f"{OUT}/.validated",
        "arch/simba_small.yaml",
        CFG["system"],
    output:
        POLICY_TABLE,
    params:
        hidden=" ".join(str(h) for h in POLICY_H),
    threads: min(workflow.cores, os.cpu_count() or 1)
    resources:
        mem_mb=2000,
        runtime=20,
    log:
        f"{OUT}/logs/characterize_policy.log",
    benchmark:
        f"{OUT}/benchmarks/characterize_policy.tsv"
    shell:
        "{RELMAS} characterize --backend {BACKEND} --objective {OBJECTIVE} --classes simba_small {SETTINGS_FLAG} "
        "--policy-hidden {params.hidden} --policy-system {CFG[system]} -j {threads} --quiet -o {output} 2> {log}"


# Timeloop/Accelergy inputs for every SA class and layer, for users who run Timeloop themselves.
rule timeloop_inputs:
    input:
        ARCH_FILES,
        MODEL_FILES,
    output:
        directory(f"{OUT}/timeloop"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{RELMAS} timeloop-inputs --models {TABLE_MODELS} -o {output}"


# One RELMAS policy per (learned scheduler, scenario): relmas (this toolkit's recipe) and
# relmas-paper (the paper's DDPG), same budget. Training resumes from DIR/last.pt if
# interrupted; only best.pt is the rule's output, so a failed run leaves no policy behind.
rule train:
    input:
        TABLE,
        POLICY_TABLE,
    output:
        f"{OUT}/policies/{{scheduler}}/{{workload}}_{{qos}}/best.pt",
    wildcard_constraints:
        scheduler="|".join(LEARNED) or "relmas",
    params:
        recipe=lambda wc: LEARNED[wc.scheduler],
        folder=lambda wc: f"{OUT}/policies/{wc.scheduler}/{wc.workload}_{wc.qos}",
        settings=train_settings,
    threads: 1
    resources:
        mem_mb=3000,
        runtime=lambda wc: int(1.5 * float(CFG["train"].get("max_minutes") or 60)) + 10,
    log:
        f"{OUT}/logs/train_{{scheduler}}_{{workload}}_{{qos}}.log",
    benchmark:
        f"{OUT}/benchmarks/train_{{scheduler}}_{{workload}}_{{qos}}.tsv"
    shell:
        "{RELMAS} train {SCENARIO} --workload {wildcards.workload} --qos {wildcards.qos} --seed {TRAIN_SEED} "
        "--recipe {params.recipe} --policy-table {POLICY_TABLE} --label-workers {threads} "
        "--label-cache {OUT}/cache/labels -o {params.folder} --restart-if-changed --no-progress 2> {log}"


def evaluate_inputs(wc):
    # named (the rules unpack them), so the shell reads the policy by name, not by position
    ins = {"table": TABLE}
    if wc.scheduler in LEARNED:
        ins.update(policy=policy_of(wc.scheduler, wc.workload, wc.qos), policy_table=POLICY_TABLE)
    return ins


def policy_flag(wc, input):
    return f"--policy {wc.scheduler}={input.policy}" if wc.scheduler in LEARNED else ""


# One job per (scenario, scheduler): all evaluation seeds in one process.
rule evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        f"{OUT}/results/runs/{{workload}}_{{qos}}_{{scheduler}}.csv",
    params:
        policy=policy_flag,
        code=scheduler_code,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    log:
        f"{OUT}/logs/evaluate_{{workload}}_{{qos}}_{{scheduler}}.log",
    benchmark:
        f"{OUT}/benchmarks/evaluate_{{workload}}_{{qos}}_{{scheduler}}.tsv"
    shell:
        "{RELMAS} evaluate {SCENARIO} --workload {wildcards.workload} --qos {wildcards.qos} "
        "--schedulers {wildcards.scheduler} --seeds {SEEDS} {params.policy} --quiet -o {output} 2> {log}"


rule sla:
    input:
        expand(f"{OUT}/results/runs/{{workload}}_{{qos}}_{{scheduler}}.csv", workload=WORKLOADS, qos=QOS,
               scheduler=SCHEDULERS),
    output:
        f"{OUT}/results/sla.csv",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{RELMAS} collect {input} -o {output}"


rule bandwidth_sweep:
    input:
        unpack(lambda wc: evaluate_inputs(type("W", (), {"scheduler": wc.scheduler, "workload": BW["workload"],
                                                           "qos": BW["qos"]}))),
    output:
        f"{OUT}/results/bandwidth_runs/{{scheduler}}.csv",
    params:
        policy=policy_flag,
        code=scheduler_code,
        gbps=" ".join(str(b) for b in BW["gbps"]),
        seeds=" ".join(str(s) for s in BW["seeds"]),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    log:
        f"{OUT}/logs/bandwidth_{{scheduler}}.log",
    benchmark:
        f"{OUT}/benchmarks/bandwidth_{{scheduler}}.tsv"
    shell:
        "{RELMAS} evaluate {SCENARIO} --workload {BW[workload]} --qos {BW[qos]} --schedulers {wildcards.scheduler} "
        "--seeds {params.seeds} --bandwidths {params.gbps} {params.policy} --quiet -o {output} 2> {log}"


rule bandwidth:
    input:
        expand(f"{OUT}/results/bandwidth_runs/{{scheduler}}.csv", scheduler=SCHEDULERS),
    output:
        f"{OUT}/results/bandwidth.csv",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{RELMAS} collect --bandwidth {input} -o {output}"


rule energy_overhead:
    input:
        TABLE,
        POLICY_TABLE,
        policy_of(OV["scheduler"], OV["workload"], OV["qos"]),
    output:
        f"{OUT}/results/energy_overhead.csv",
    params:
        hidden=" ".join(str(h) for h in OV["hidden"]),
        periods=" ".join(str(p) for p in OV["periods"]),
        seeds=" ".join(str(s) for s in OV["seeds"]),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        f"{OUT}/logs/energy_overhead.log",
    benchmark:
        f"{OUT}/benchmarks/energy_overhead.tsv"
    shell:
        "{RELMAS} overhead {SCENARIO} --workload {OV[workload]} --qos {OV[qos]} --hidden {params.hidden} "
        "--periods {params.periods} --seeds {params.seeds} --scheduler {OV[scheduler]} --policy {input[2]} "
        "--policy-table {POLICY_TABLE} -o {output} 2> {log}"


ALL_POLICIES = [policy_of(s, w, q) for s in LEARNED if s in SCHEDULERS for w in WORKLOADS for q in QOS]


rule figures:
    input:
        sla=f"{OUT}/results/sla.csv",
        bandwidth=f"{OUT}/results/bandwidth.csv",
        overhead=f"{OUT}/results/energy_overhead.csv",
        policies=ALL_POLICIES,
    output:
        expand(f"{OUT}/figures/{{fig}}.{{ext}}", fig=FIGURES, ext=["png", "pdf"]),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{RELMAS} figures --sla {input.sla} --bandwidth {input.bandwidth} --overhead {input.overhead} "
        "--policies {OUT}/policies -o {OUT}/figures"


rule report:
    input:
        sla=f"{OUT}/results/sla.csv",
        bandwidth=f"{OUT}/results/bandwidth.csv",
        overhead=f"{OUT}/results/energy_overhead.csv",
        figures=rules.figures.output,
        table=TABLE,
    output:
        f"{OUT}/report.md",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{RELMAS} report --sla {input.sla} --bandwidth {input.bandwidth} --overhead {input.overhead} "
        "--figures {OUT}/figures --policies {OUT}/policies --config config/config.yaml --preset {PRESET} "
        "--table {input.table} -o {output}"
