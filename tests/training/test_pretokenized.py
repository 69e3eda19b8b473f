"""PretokenizedSFTDataset yields exactly what verl's MultiTurnSFTDataset yields; synthetic data has the right shape."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from coderl.errors import DataError
from coderl.models.tokenizer import load_qwen_tokenizer
from coderl.training.benchmarks.synthetic import (
    SyntheticSpec,
    length_stats,
    make_samples,
    target_lengths,
    write_sft_parquet,
)


@pytest.fixture(scope="module")
def tokenizer():
    return load_qwen_tokenizer()


@pytest.fixture(scope="module")
def sft_parquet(tmp_path_factory, tokenizer):
    rows, lengths = make_samples(tokenizer, SyntheticSpec(n=24, seed=3, mean_tokens=300, max_length=1024))
    # one truncation case: a row longer than the max_length the datasets below are given (512)
    assert max(lengths) > 512
    return write_sft_parquet(tmp_path_factory.mktemp("sft") / "train.parquet", rows), lengths


def _config(pad_mode: str, truncation: str = "right", max_length: int = 512):
    return OmegaConf.create(
        {
            "pad_mode": pad_mode,
            "max_length": max_length,
            "truncation": truncation,
            "messages_key": "messages",
            "ignore_input_ids_mismatch": True,
        }
    )


@pytest.mark.parametrize("pad_mode,truncation", [("right", "right"), ("right", "left"), ("no_padding", "right")])
def test_pretokenized_matches_multiturn(sft_parquet, tokenizer, pad_mode, truncation):
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    from coderl.training.in_verl.pretokenized import PretokenizedSFTDataset

    path, lengths = sft_parquet
    ref = MultiTurnSFTDataset(str(path), tokenizer, _config(pad_mode, truncation))
    fast = PretokenizedSFTDataset(str(path), tokenizer, _config(pad_mode, truncation))
    assert len(ref) == len(fast) == 24
    for i in range(len(ref)):
        a, b = ref[i], fast[i]
        assert sorted(a) == sorted(b), f"row {i}: keys differ"
        for k in a:
            assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), f"row {i}: {k} differs"
    # what the token-balanced sampler reads: each row's real token count, and the global batch
    assert fast.token_lengths == [min(n, 512) for n in lengths]
    assert fast.global_batch_size is None  # no train_batch_size in this config
    # the loss is trained on assistant tokens only: some but not all positions count
    m = fast[0]["loss_mask"]
    assert 0 < int(m.sum()) < m.numel()


def test_synthetic_lengths_follow_the_spec(tokenizer):
    spec = SyntheticSpec(n=400, seed=0)
    targets = target_lengths(spec)
    assert abs(sum(targets) / len(targets) - 1343) < 2
    assert max(targets) <= spec.max_length and min(targets) >= 96
    rows, lengths = make_samples(tokenizer, SyntheticSpec(n=40, seed=1))
    stats = length_stats(lengths)
    assert stats["max"] <= 4096
    assert 900 < stats["mean"] < 1800  # 40 draws of a wide distribution: loose, but not anything goes
    assert stats["attn_len"] > stats["mean"]  # E[s^2]/E[s] exceeds E[s] for any spread
    # deterministic: same spec, same rows
    again, _ = make_samples(tokenizer, SyntheticSpec(n=40, seed=1))
    assert again == rows


def test_write_refuses_rows_without_messages(tmp_path):
    with pytest.raises(DataError, match="messages"):
        write_sft_parquet(tmp_path / "x.parquet", [{"text": "hi"}])
    assert not (tmp_path / "x.parquet").exists()
