"""A verl SFT dataset that tokenizes every row once, ahead of training.

verl's MultiTurnSFTDataset applies the chat template per turn in `__getitem__`, and then again
for the whole conversation (its sanity check), on every access: every epoch pays for it again,
in the data-loader workers. This class runs exactly that code once per row at construction and
keeps the compact (unpadded) result; `__getitem__` only re-pads. Outputs are identical to
MultiTurnSFTDataset's for the same rows and config (tests/training/test_pretokenized.py checks that), so
the training math does not change.

Use it through verl's hook:
    data.custom_cls.path=pkg://coderl.training.in_verl.pretokenized data.custom_cls.name=PretokenizedSFTDataset
"""

from __future__ import annotations

import logging
import time

import torch
import torch.nn.functional as F
from verl.utils.dataset.dataset_utils import DatasetPadMode
from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

from ...errors import DataError

log = logging.getLogger(__name__)

_KEYS = ("input_ids", "loss_mask", "position_ids")


class PretokenizedSFTDataset(MultiTurnSFTDataset):
    """MultiTurnSFTDataset with the tokenization done once, in __init__."""

    def __init__(self, parquet_files, tokenizer, config, processor=None, max_samples: int = -1):
        super().__init__(parquet_files, tokenizer, config, processor=processor, max_samples=max_samples)
        t0 = time.perf_counter()
        self._rows: list[dict[str, torch.Tensor]] = [self._compact(i) for i in range(len(self))]
        # read by coderl.training.in_verl.token_balanced_dp to spread each step's samples over the ranks by tokens
        self.token_lengths: list[int] = [int(r["input_ids"].shape[-1]) for r in self._rows]
        log.info(
            "pretokenized %d rows (%d tokens) in %.1f s",
            len(self._rows),
            sum(self.token_lengths),
            time.perf_counter() - t0,
        )
        self.global_batch_size: int | None = (config or {}).get("train_batch_size")

    def _compact(self, index: int) -> dict[str, torch.Tensor]:
        item = super().__getitem__(index)
        if "multi_modal_inputs" in item:
            raise DataError(
                f"row {index}: PretokenizedSFTDataset handles text-only conversations; "
                "remove data.custom_cls to train on images/videos"
            )
        if self.pad_mode == DatasetPadMode.RIGHT:
            # real tokens are the attention-mask ones; everything after is padding we rebuild on access
            n = int(item["attention_mask"].sum())
            return {k: item[k][..., :n].clone() for k in _KEYS}
        return {k: item[k] for k in _KEYS}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        row = self._rows[index]
        if self.pad_mode != DatasetPadMode.RIGHT:
            return dict(row)
        n = row["input_ids"].shape[-1]
        pad = self.max_length - n
        if pad <= 0:  # filled (or truncated to) max_length: nothing to pad
            return {**row, "attention_mask": torch.ones(n, dtype=torch.long)}
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        return {
            "input_ids": F.pad(row["input_ids"], (0, pad), value=pad_id),
            "attention_mask": F.pad(torch.ones(n, dtype=torch.long), (0, pad), value=0),
            "position_ids": F.pad(row["position_ids"], (0, pad), value=0),
            "loss_mask": F.pad(row["loss_mask"], (0, pad), value=0),
        }
