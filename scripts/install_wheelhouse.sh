#!/usr/bin/env bash
# Install a wheelhouse made by `make wheelhouse` on a GPU box without internet.
#
# Usage: bash wheelhouse/install.sh [TARGET]
#   no TARGET: installs into the current python3 environment (pip install --no-index)
#   TARGET:    installs into that folder (pip --target); then: export PYTHONPATH=TARGET
# --no-deps because the wheelhouse is the closure minus what a stock PyTorch image already has;
# torch, triton, numpy, pandas, pyarrow come from the image.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WHEELS=("$HERE"/*.whl)
[[ -e "${WHEELS[0]}" ]] || WHEELS=("$HERE"/../wheelhouse/*.whl)
[[ -e "${WHEELS[0]}" ]] || { echo "install_wheelhouse: no .whl files next to $0; run 'make wheelhouse' first" >&2; exit 2; }
PYTHON="${PYTHON:-python3}"
ARGS=(-q --no-index --no-deps --no-compile --no-cache-dir --upgrade)
if [[ $# -ge 1 ]]; then
  ARGS+=(--target "$1")
fi
"$PYTHON" -m pip install "${ARGS[@]}" "${WHEELS[@]}"
if [[ $# -ge 1 ]]; then
  echo "installed ${#WHEELS[@]} wheels into $1; now: export PYTHONPATH=$1\${PYTHONPATH:+:\$PYTHONPATH}"
else
  echo "installed ${#WHEELS[@]} wheels"
fi
PYTHONPATH="${1:-}${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -c \
  "import verl, transformers, ray, tensordict; print('verl', verl.__version__, 'transformers', transformers.__version__, 'ray', ray.__version__)"
