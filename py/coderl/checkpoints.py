"""verl 0.9.1's checkpoint layout, the one place that knows it (no torch needed).

<dir>/latest_checkpointed_iteration.txt          the last step whose save completed
<dir>/global_step_N/model_world_size_W_rank_R.pt  FSDP shards (fp32)
<dir>/global_step_N/optim_world_size_W_rank_R.pt  AdamW state
<dir>/global_step_N/extra_state_world_size_W_rank_R.pt, data_R.pt, fsdp_config.json
<dir>/global_step_N/huggingface/                  config.json + full weights (with hf_model)
RL (verl.trainer.main_ppo): the same files under global_step_N/actor/, plus global_step_N/data.pt

Used by training (resume checks), pruning, evaluation (discovery of every step) and serving
(a --checkpoint argument -> the folder a model server loads).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError

_STEP_DIR = re.compile(r"^global_step_(\d+)$")
_SHARD = re.compile(r"(model|optim|extra_state)_world_size_(\d+)_rank_(\d+)\.pt$")
LATEST_FILE = "latest_checkpointed_iteration.txt"
HF_EXPORT = "huggingface"
WEIGHT_PATTERNS = ("*.safetensors", "*.bin")


def step_dir(root: str | Path, step: int) -> Path:
    return Path(root) / f"global_step_{step}"


def step_of(path: str | Path) -> int | None:
    """N for a global_step_N folder, else None."""
    m = _STEP_DIR.match(Path(path).name)
    return int(m.group(1)) if m else None


def has_hf_weights(d: Path, *, need_weights: bool = True) -> bool:
    """A Hugging Face model folder: config.json, and (need_weights) *.safetensors or *.bin weights."""
    if not (d / "config.json").is_file():
        return False
    return not need_weights or any(any(d.glob(p)) for p in WEIGHT_PATTERNS)


def _export_dir(path: Path) -> Path:
    """Where verl writes the HF export of a checkpoint folder: huggingface/, or actor/huggingface/ (RL)."""
    top = path / HF_EXPORT
    if top.is_dir():
        return top
    actor = path / "actor"
    return actor / HF_EXPORT if actor.is_dir() else top


@dataclass(frozen=True)
class Checkpoint:
    """One global_step_N folder. Everything else is read from disk when asked (a save may be in progress)."""

    step: int
    path: Path

    @classmethod
    def at(cls, root: str | Path, step: int) -> Checkpoint:
        return cls(step, step_dir(root, step))

    @property
    def shard_dir(self) -> Path:
        """Where the FSDP shards are: the step folder (SFT) or its actor/ folder (verl's RL trainer)."""
        actor = self.path / "actor"
        return actor if actor.is_dir() else self.path

    @property
    def export_dir(self) -> Path:
        """The huggingface/ folder verl writes (which may be missing or incomplete)."""
        return _export_dir(self.path)

    @property
    def hf_dir(self) -> Path | None:
        """The huggingface/ folder when it holds loadable weights, else None (problem says why)."""
        return self.export_dir if has_hf_weights(self.export_dir) else None

    @property
    def problem(self) -> str:
        """Why hf_dir is None ("" when it is not)."""
        if not self.export_dir.is_dir():
            return "no huggingface/ folder (save with checkpoint.save_contents including hf_model)"
        if not has_hf_weights(self.export_dir):
            return "huggingface/ has no config.json with *.safetensors/*.bin weights"
        return ""

    def shard_files(self, kind: str) -> list[Path]:
        return sorted(p for p in self.shard_dir.glob(f"{kind}_world_size_*_rank_*.pt"))

    def world_size(self) -> int | None:
        """The number of processes that wrote this checkpoint (from the shard file names)."""
        sizes = {int(m.group(2)) for p in self.shard_dir.iterdir() if (m := _SHARD.match(p.name))}
        if len(sizes) > 1:
            raise DataError(f"{self.path}: shards from several world sizes {sorted(sizes)}; the checkpoint is mixed up")
        return sizes.pop() if sizes else None

    def has_optimizer(self) -> bool:
        return bool(self.shard_files("optim"))

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


def list_checkpoints(root: str | Path) -> list[Checkpoint]:
    """global_step_N folders under root (not recursive), sorted by N as a number (100 before 1000); [] without root."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [Checkpoint(s, p) for p in root.iterdir() if p.is_dir() and (s := step_of(p)) is not None]
    return sorted(found, key=lambda c: c.step)


def discover_checkpoints(root: str | Path) -> list[Checkpoint]:
    """list_checkpoints for evaluation: a missing root is an error that names the option to fix."""
    if not Path(root).is_dir():
        raise DataError(f"checkpoint root not found: {root}; pass CKPT_ROOT=<folder holding global_step_N/>")
    return list_checkpoints(root)


def latest_step(root: str | Path) -> int | None:
    """The step verl resumes from: latest_checkpointed_iteration.txt (written after a save completes)."""
    f = Path(root) / LATEST_FILE
    if not f.is_file():
        return None
    text = f.read_text().strip()
    if not text.isdigit():
        raise DataError(f"{f}: expected a step number, found {text[:40]!r}; delete the file or fix it by hand")
    return int(text)


def latest_checkpoint(root: str | Path) -> Checkpoint | None:
    step = latest_step(root)
    if step is None:
        return None
    ck = Checkpoint.at(root, step)
    return ck if ck.path.is_dir() else None


def resolve_model_dir(path: str | Path, *, need_weights: bool = True) -> tuple[Path, int | None]:
    """A --checkpoint argument -> (the Hugging Face model folder to load, the step when the names say it).

    Accepts a model folder itself (a global_step_N/huggingface/ gives N), or a checkpoint folder
    holding huggingface/ or actor/huggingface/. need_weights=False accepts a config.json without
    weights (a server launcher that leaves loading to the server).
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"checkpoint folder not found: {path}")
    if has_hf_weights(path, need_weights=need_weights):
        return path, step_of(path.parent) if path.name == HF_EXPORT else None
    export = _export_dir(path)
    if step_of(path) is not None or export.is_dir():
        if has_hf_weights(export, need_weights=need_weights):
            return export, step_of(path)
        problem = Checkpoint(step_of(path) or 0, path).problem
        if not need_weights and export.is_dir():
            problem = "huggingface/ has no config.json"
        raise DataError(f"{path}: {problem}; nothing to load")
    raise DataError(f"{path}: neither a global_step_<N> folder nor a Hugging Face model folder (config.json + weights)")
