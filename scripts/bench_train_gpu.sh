#!/usr/bin/env bash
# What runs on a GPU box without internet for `make bench-train`:
#   install the wheelhouse (made by `make wheelhouse`) into a private folder, check the varlen
#   attention kernel against fp64 sdpa, then run the bench with the arguments given.
#
# Usage: bash scripts/bench_train_gpu.sh [bench args...]      e.g. --shape 7.6b --gpus 4 --steps 20
# Env:   OUT (default outputs/bench_train_gpu): where results, the raw result (OUT/bench_train/*.json, to
#        commit into docs/bench_train/), the bench log and logs.tgz go
#        BENCH_OUT (default /tmp/bench_train): the bench's working folder (model, data, checkpoints)
#        SKIP_INSTALL=1 when the wheels are already importable
set -uo pipefail
OUT="${OUT:-outputs/bench_train_gpu}"
BENCH_OUT="${BENCH_OUT:-/tmp/bench_train}"
mkdir -p "$OUT" "$BENCH_OUT"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1 PYTHONUNBUFFERED=1
if [[ "${SKIP_INSTALL:-0}" != 1 && ! -f /tmp/site/.coderl-wheelhouse ]]; then
  t0=$(date +%s)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site wheelhouse/*.whl \
    || { echo "bench_train_gpu: wheelhouse install failed" >&2; exit 3; }
  touch /tmp/site/.coderl-wheelhouse
  echo "bench_train_gpu: wheelhouse installed in $(( $(date +%s) - t0 )) s"
fi
export PYTHONPATH="/tmp/site:$PWD/py${PYTHONPATH:+:$PYTHONPATH}" PATH="/tmp/site/bin:$PATH"  # py-spy
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpus.txt"
python3 -c "import torch, verl, transformers; print('torch', torch.__version__, 'verl', verl.__version__, 'transformers', transformers.__version__)"
if [[ "${SKIP_ATTN_CHECK:-0}" != 1 ]]; then
  python3 -m coderl.training.in_verl.varlen_attn | tee "$OUT/varlen_check.json"
fi
# the raw result (machine, date, versions, command line) comes back under $OUT: commit it into docs/bench_train/
python3 -m coderl.training.benchmarks.bench --out "$BENCH_OUT" --results-dir "$OUT/bench_train" "$@" 2>&1 | tee "$OUT/bench.log"
rc=${PIPESTATUS[0]}
cp "$BENCH_OUT"/bench_results.{json,md} "$OUT/" 2>/dev/null
tar -czf "$OUT/logs.tgz" -C "$BENCH_OUT" logs 2>/dev/null
exit "$rc"
