#!/usr/bin/env bash
# Create (or update) the local virtual environment .venv with the toolkit installed.
#   bash scripts/setup.sh          # runtime dependencies
#   bash scripts/setup.sh --test   # plus pytest, hypothesis, pytest-benchmark
# torch is pinned to 2.13.0 (the CPU wheel); an unpinned torch would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-python3}"
extras="torchvision"
[ "${1:-}" = "--test" ] && extras="torchvision,test"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch first and alone, pinned, so nothing else can resolve a different build.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[${extras}]"
echo "setup: .venv ready ($(.venv/bin/python -c 'import torch, zigzag; print("torch", torch.__version__)'))"
