"""Reading verl 0.9.1's checkpoint layout (no torch needed).

<dir>/latest_checkpointed_iteration.txt          the last step whose save completed
<dir>/global_step_N/model_world_size_W_rank_R.pt  FSDP shards (fp32)
<dir>/global_step_N/optim_world_size_W_rank_R.pt  AdamW state
<dir>/global_step_N/extra_state_world_size_W_rank_R.pt, data_R.pt, fsdp_config.json
<dir>/global_step_N/huggingface/                  config.json + full weights (with hf_model)
RL (verl.trainer.main_ppo): the same files under global_step_N/actor/, plus global_step_N/data.pt
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

_STEP_DIR = re.compile(r"global_step_(\d+)$")
_SHARD = re.compile(r"(model|optim|extra_state)_world_size_(\d+)_rank_(\d+)\.pt$")
LATEST_FILE = "latest_checkpointed_iteration.txt"


@dataclass(frozen=True)
class Checkpoint:
    step: int
    path: Path

    @property
    def shard_dir(self) -> Path:
        """Where the FSDP shards are: the step folder (SFT) or its actor/ folder (verl's RL trainer)."""
        actor = self.path / "actor"
        return actor if actor.is_dir() else self.path

    @property
    def hf_dir(self) -> Path:
        return self.shard_dir / "huggingface"

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
    """global_step_N folders under root, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    out = [Checkpoint(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _STEP_DIR.match(p.name))]
    return sorted(out, key=lambda c: c.step)


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
    path = Path(root) / f"global_step_{step}"
    return Checkpoint(step, path) if path.is_dir() else None
