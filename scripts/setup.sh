#!/usr/bin/env bash
# make setup: create .venv (Python 3.11+) and install coderl with its pinned dependency ranges.
# Idempotent: a stamp named after the hash of the install inputs makes a second run a no-op.
# On a GPU box whose python already has a CUDA torch, the venv sees it (--system-site-packages)
# and pip keeps it; on a CPU box torch==2.13.0 is installed first (this machine kind ships its
# CPU build locally; elsewhere set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
stamp="$VENV/.coderl-setup-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
[ -f "$stamp" ] && exit 0

if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "setup: $PY is $("$PY" --version 2>&1); coderl needs Python 3.11 or newer. Run: make setup PYTHON=python3.11" >&2
  exit 1
fi
site_flag=""
if "$PY" -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
  echo "setup: keeping the CUDA torch of $PY ($("$PY" -c 'import torch; print(torch.__version__)'))"
  site_flag="--system-site-packages"
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv $site_flag "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  echo "setup: installing torch==${TORCH_VERSION:-2.13.0}"
  "$VENV/bin/python" -m pip install -q "torch==${TORCH_VERSION:-2.13.0}" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
fi
echo "setup: installing coderl and its dependencies into $VENV"
"$VENV/bin/python" -m pip install -q -e .
bash scripts/install_bwrap.sh   # the sandbox's isolation layer; never fails the setup
rm -f "$VENV"/.coderl-setup-*
touch "$stamp"
echo "setup: done ($("$VENV/bin/python" -c 'import torch, verl, transformers; print(f"torch {torch.__version__}, verl {verl.__version__}, transformers {transformers.__version__}")' 2>/dev/null | tail -1))"
