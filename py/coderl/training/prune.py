"""Checkpoint housekeeping: drop optimizer state no longer needed to resume; HF exports fp32 -> bf16.

Resuming needs only the latest checkpoint's optimizer state. A run of the runbook recipe writes
~122 GB per 7.6B checkpoint, 61 GB of it AdamW state and 30 GB an fp32 HF export that config.json
calls bfloat16. Safe while training runs: nothing at or after the latest completed checkpoint
(latest_checkpointed_iteration.txt) is touched, so a save in progress is never disturbed.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..checkpoints import Checkpoint, latest_step, list_checkpoints
from ..errors import ConfigError, DataError
from ..io_utils import atomic_write_json

log = logging.getLogger(__name__)


@dataclass
class PruneReport:
    kept_optimizer: list[int] = field(default_factory=list)
    dropped_optimizer: list[int] = field(default_factory=list)
    converted_hf: list[int] = field(default_factory=list)
    skipped_newer: list[int] = field(default_factory=list)
    freed_bytes: int = 0


def prune(root: str | Path, keep: int = 1, hf_bf16: bool = True, dry_run: bool = False) -> PruneReport:
    """Keep the optimizer state of the `keep` most recent completed checkpoints (the latest always)."""
    if keep < 1:
        raise ConfigError(
            f"KEEP={keep}: at least the latest checkpoint's optimizer state is needed to resume; use KEEP>=1"
        )
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"checkpoint root {root} does not exist; pass CKPT_ROOT=<run dir>")
    latest = latest_step(root)
    if latest is None:
        raise DataError(
            f"{root}: no latest_checkpointed_iteration.txt, so no completed checkpoint to protect; "
            f"nothing pruned (is this a verl run directory?)"
        )
    ckpts = list_checkpoints(root)
    done = [c for c in ckpts if c.step <= latest]
    report = PruneReport(skipped_newer=[c.step for c in ckpts if c.step > latest])
    protected = {c.step for c in done[-keep:]} | {latest}
    for c in done:
        if c.step in protected:
            report.kept_optimizer.append(c.step)
            continue
        shards = c.shard_files("optim")
        if shards:
            report.dropped_optimizer.append(c.step)
            for f in shards:
                report.freed_bytes += f.stat().st_size
                if not dry_run:
                    f.unlink()
            log.info(
                "step %d: %s optimizer state (%d shard(s))", c.step, "would drop" if dry_run else "dropped", len(shards)
            )
    if hf_bf16:
        for c in done:
            freed = hf_to_bf16(c, dry_run=dry_run)
            if freed:
                report.converted_hf.append(c.step)
                report.freed_bytes += freed
    return report


def hf_to_bf16(ckpt: Checkpoint, dry_run: bool = False) -> int:
    """Rewrite fp32 tensors of huggingface/*.safetensors as bf16 (atomically, file by file); bytes freed.

    config.json's dtype is set to bfloat16 only once every file is converted, so it never claims
    a dtype the weights do not have. Re-running finishes an interrupted conversion.
    """
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    hf = ckpt.export_dir
    files = sorted(hf.glob("*.safetensors"))
    if not files:
        return 0
    freed = 0
    for f in files:
        with safe_open(str(f), framework="pt") as sf:
            meta = sf.metadata() or {}
            names = list(sf.keys())
            if not any(sf.get_slice(k).get_dtype() == "F32" for k in names):
                continue
            if dry_run:
                freed += sum(
                    _numel(sf.get_slice(k).get_shape()) * 2 for k in names if sf.get_slice(k).get_dtype() == "F32"
                )
                continue
            tensors = {k: sf.get_tensor(k) for k in names}
        tensors = {k: (t.to(torch.bfloat16) if t.dtype == torch.float32 else t) for k, t in tensors.items()}
        before = f.stat().st_size
        tmp = f.with_name(f".{f.name}.bf16.tmp")
        save_file(tensors, str(tmp), metadata={**meta, "format": meta.get("format", "pt")})
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, f)
        freed += before - f.stat().st_size
    if not dry_run:
        _fix_index(hf)
        _set_config_dtype(hf / "config.json", "bfloat16")
    return freed


def _numel(shape: list[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _fix_index(hf: Path) -> None:
    idx = hf / "model.safetensors.index.json"
    if not idx.is_file():
        return
    data = json.loads(idx.read_text(encoding="utf-8"))
    total = sum(f.stat().st_size for f in hf.glob("*.safetensors"))
    data.setdefault("metadata", {})["total_size"] = total
    atomic_write_json(idx, data)


def _set_config_dtype(cfg_path: Path, dtype: str) -> None:
    if not cfg_path.is_file():
        return
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    changed = False
    for key in ("torch_dtype", "dtype"):
        if key in cfg and cfg[key] != dtype:
            cfg[key] = dtype
            changed = True
    if "torch_dtype" not in cfg and "dtype" not in cfg:
        cfg["torch_dtype"] = dtype
        changed = True
    if changed:
        atomic_write_json(cfg_path, cfg)
