# RELMAS toolkit workflow: arch/ + layers/ -> tables -> workloads -> training ->
# evaluation -> figures -> report. Rules are thin: each calls the `relmas` CLI;
# the logic lives in the packages. Pick the scale with a preset:
#   snakemake -j8 all                          # default preset
#   snakemake -j8 all --config preset=smoke    # tiny, minutes
#   snakemake -n all                           # show the plan
import os
import sys
from pathlib import Path

from relmas.config import load_config

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
POLICY_H = CFG["characterize"]["policy_hidden"]
TABLE = f"{OUT}/tables/{BACKEND}.csv"
POLICY_TABLE = f"{OUT}/tables/policy.csv"

ARCH_FILES = sorted(str(p) for p in Path(CFG["arch_dir"]).glob("*.yaml"))
MODEL_FILES = [f"{CFG['layers_dir']}/{m}.yaml" for m in TABLE_MODELS]


rule all:
    input:
        TABLE,
        POLICY_TABLE,


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
    threads: workflow.cores
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        f"{OUT}/logs/characterize_{BACKEND}.log",
    shell:
        "{RELMAS} characterize --backend {BACKEND} --objective {OBJECTIVE} --models {params.models} "
        "-j {threads} --quiet -o {output} 2> {log}"


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
    threads: workflow.cores
    resources:
        mem_mb=2000,
        runtime=20,
    log:
        f"{OUT}/logs/characterize_policy.log",
    shell:
        "{RELMAS} characterize --backend {BACKEND} --objective {OBJECTIVE} --classes simba_small "
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
