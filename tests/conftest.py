"""Shared fixtures: real data from the CODERL_SHARED_DATA folder (skipped when unset) and a tiny Qwen2 model."""

from __future__ import annotations

from pathlib import Path

import pytest

from coderl.config import load_eval_config
from coderl.paths import shared_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("CODERL_SHARED_DATA (the folder of real benchmark files) is not set; skipping")
    return d


@pytest.fixture(scope="session")
def eval_config():
    return load_eval_config()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random-init Qwen2 (real Qwen tokenizer) saved once per test session."""
    from coderl.models.tiny import build_tiny_qwen2

    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny_qwen2"))


@pytest.fixture(scope="session")
def qwen_tokenizer():
    """The real Qwen tokenizer (Qwen2.5 chat template), loaded once per test session (20-40 s on a busy box)."""
    from coderl.models.tokenizer import load_qwen_tokenizer

    return load_qwen_tokenizer()
