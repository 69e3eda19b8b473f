#!/usr/bin/env bash
# `make setup` for a GPU box without internet: .venv from the wheelhouse instead of PyPI.
#
#   here (with internet):  make wheelhouse            -> wheelhouse/*.whl (Python 3.12, manylinux)
#   there (no internet):   bash scripts/setup_offline.sh && make train GPUS=4
#
# The box's own CUDA torch is kept (the venv sees the system site-packages). coderl itself is put on
# the venv's path with a .pth file and a `coderl` launcher (no build backend needed offline). The
# setup stamp is written, so every make target then runs without touching the network. Only the
# training stages are covered by the wheelhouse (evaluation needs vLLM: see docs/training.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
ls wheelhouse/*.whl >/dev/null 2>&1 || { echo "setup_offline: no wheelhouse/*.whl here; run 'make wheelhouse' on a machine with internet and copy wheelhouse/" >&2; exit 2; }
t0=$(date +%s)
# --without-pip: works where Debian's python3-venv (ensurepip) is missing; the system pip installs into it
[[ -x .venv/bin/python ]] || "$PY" -m venv --without-pip --system-site-packages .venv
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$PY" -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check --root-user-action=ignore --upgrade --target "$site" wheelhouse/*.whl
ln -sf "$site/bin/py-spy" .venv/bin/py-spy 2>/dev/null || true
echo "$PWD/py" > "$site/coderl-src.pth"
# the box's CUDA torch may live outside the base interpreter's site-packages (dist-packages, PYTHONPATH)
"$PY" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))' > "$site/system-torch.pth" 2>/dev/null || rm -f "$site/system-torch.pth"
cat > .venv/bin/coderl <<LAUNCHER
#!$PWD/.venv/bin/python
import sys
from coderl.cli import main
sys.exit(main())
LAUNCHER
chmod +x .venv/bin/coderl
.venv/bin/python -c "import torch, verl, transformers, coderl; print('setup_offline: torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'verl', verl.__version__, 'transformers', transformers.__version__)"
touch ".venv/.coderl-setup-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
echo "setup_offline: .venv ready in $(( $(date +%s) - t0 )) s; make targets will not reinstall"
