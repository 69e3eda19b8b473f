"""Find verl checkpoints (`global_step_<N>/`) under a root, in numeric step order.

SFT checkpoints keep their Hugging Face export in global_step_N/huggingface/, RL (PPO/GRPO)
checkpoints in global_step_N/actor/huggingface/; both are evaluated the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

_STEP_DIR = re.compile(r"^global_step_(\d+)$")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin")


@dataclass(frozen=True)
class Checkpoint:
    step: int
    path: Path  # the global_step_<N> folder
    hf_dir: Path | None  # its huggingface/ folder when it holds loadable weights
    problem: str = ""  # why hf_dir is None


def has_hf_weights(d: Path) -> bool:
    return (d / "config.json").is_file() and any(any(d.glob(p)) for p in WEIGHT_PATTERNS)


def step_of(path: str | Path) -> int | None:
    m = _STEP_DIR.match(Path(path).name)
    return int(m.group(1)) if m else None


def inspect_checkpoint(path: Path) -> Checkpoint:
    step = step_of(path)
    if step is None:
        raise DataError(f"{path}: not a global_step_<N> folder")
    hf = path / "huggingface"
    if not hf.is_dir() and (path / "actor" / "huggingface").is_dir():
        hf = path / "actor" / "huggingface"  # verl's RL trainer saves the policy under actor/
    if not hf.is_dir():
        return Checkpoint(
            step, path, None, "no huggingface/ folder (save with checkpoint.save_contents including hf_model)"
        )
    if not has_hf_weights(hf):
        return Checkpoint(step, path, None, "huggingface/ has no config.json with *.safetensors/*.bin weights")
    return Checkpoint(step, path, hf)


def discover_checkpoints(root: str | Path) -> list[Checkpoint]:
    """Every global_step_<N> under root (not recursive), sorted by N as a number (100 before 1000)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"checkpoint root not found: {root}; pass CKPT_ROOT=<folder holding global_step_N/>")
    found = [inspect_checkpoint(p) for p in root.iterdir() if p.is_dir() and step_of(p) is not None]
    return sorted(found, key=lambda c: c.step)


def resolve_model_dir(path: str | Path) -> tuple[Path, int | None]:
    """A --checkpoint argument -> (folder with HF weights, step if the name says it)."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"checkpoint folder not found: {path}")
    if step_of(path) is not None:
        ck = inspect_checkpoint(path)
        if ck.hf_dir is None:
            raise DataError(f"{path}: {ck.problem}; nothing to evaluate")
        return ck.hf_dir, ck.step
    if has_hf_weights(path):
        return path, step_of(path.parent) if path.name == "huggingface" else None
    raise DataError(f"{path}: neither a global_step_<N> folder nor a Hugging Face model folder (config.json + weights)")
