"""How many optimizer steps verl will run for a recipe on a world size (the launcher, the planner and
env-check all need it; its own module so that none of them imports another)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ..errors import DataError
from .recipe import batch_plan, resolve_path

log = logging.getLogger(__name__)


def count_rows(files: str | list[str]) -> int:
    import pyarrow.parquet as pq

    total = 0
    for f in [files] if isinstance(files, str) else files:
        p = Path(resolve_path(f))
        if not p.is_file():
            raise DataError(
                f"training data not found: {p}; build it with `make prepare-sft INPUT=...` "
                f"or point data.train_files at a verl parquet with a messages column"
            )
        try:
            total += pq.ParquetFile(p).metadata.num_rows
        except Exception as e:  # pyarrow raises several types for a bad file
            raise DataError(f"{p}: not a readable parquet file ({e})") from None
    return total


def total_steps(recipe: dict, world_size: int, extra_overrides: Sequence[str] = ()) -> int:
    """Steps verl will run: min(trainer.total_training_steps if set, epochs x len(dataloader)).

    verl's DistributedSampler and DataLoader both drop the last incomplete batch, and its loop
    stops after the last epoch even when total_training_steps asks for more (without a final save).
    """
    max_steps = recipe["training"]["max_steps"]
    for o in extra_overrides:
        if o.startswith("trainer.total_training_steps="):
            max_steps = int(o.split("=", 1)[1])
    n = count_rows(recipe["data"]["train_files"])
    bp = batch_plan(recipe, world_size)
    steps_per_epoch = (n // world_size) // bp.per_gpu_batch
    if steps_per_epoch == 0:
        raise DataError(
            f"{recipe['data']['train_files']}: {n} samples make no full batch of "
            f"{recipe['batch']['global_batch_size']}; add data or lower batch.global_batch_size"
        )
    by_epochs = steps_per_epoch * recipe["training"]["epochs"]
    if max_steps is not None and max_steps > by_epochs:
        log.warning(
            "max_steps %d > %d epochs x %d steps: verl stops at step %d",
            max_steps,
            recipe["training"]["epochs"],
            steps_per_epoch,
            by_epochs,
        )
    return by_epochs if max_steps is None else min(max_steps, by_epochs)
