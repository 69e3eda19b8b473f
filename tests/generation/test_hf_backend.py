"""The in-process hf backend's batched greedy generation: the same answers as one prompt at a time."""

from __future__ import annotations

import dataclasses

import pytest

from coderl.data.problem import Problem
from coderl.errors import ConfigError
from coderl.generation import build_messages, make_backend


def _problem(i: int, prompt: str) -> Problem:
    return Problem(
        id=f"p/{i}",
        dataset="toy",
        kind="functional",
        prompt=prompt,
        source="test",
        entry_point="f",
        meta={"prompt_style": "stdio"},
        test_code="def check(candidate):\n    assert candidate(1) == 1\n",
    ).with_hash()


# prompts of very different lengths, so that a batch really pads
PROMPTS = [
    "Write f(x) that returns x.",
    "Write a Python function `grow_river(x)` that returns x times 7.",
    'def f(x):\n    """Return the sum of the squares of the odd numbers below x, ignoring negative input, '
    'and explain nothing."""\n',
    "f",
    "Write a Python function that reads two integers from stdin and prints their greatest common divisor.",
]


@pytest.fixture(scope="module")
def cfg(eval_config):
    return dataclasses.replace(eval_config, generation={**eval_config.generation, "max_new_tokens": 12})


@pytest.fixture(scope="module")
def items(cfg):
    return [(p, build_messages(p, cfg)) for p in (_problem(i, t) for i, t in enumerate(PROMPTS))]


def _answers(backend, items):
    return [(g.id, g.completion, g.completion_tokens, g.finish_reason) for g in backend.generate(items)]


@pytest.mark.slow
def test_batched_greedy_equals_one_at_a_time_fp32(cfg, items, tiny_model_dir):
    with make_backend("hf", cfg=cfg, model=str(tiny_model_dir), dtype="float32") as one:
        alone = _answers(one, items)
        # stop some rows early: a token that row 0 emits mid-answer becomes an end-of-sequence token, so
        # a batch holds finished rows (padded) next to running ones
        stop_token = one.generate_one(items[0][1])["token_ids"][3]
        one.model.generation_config.eos_token_id = [*one.model.generation_config.eos_token_id, stop_token]
        alone_stopping = _answers(one, items)
    assert alone_stopping[0][2] <= 4 and alone_stopping[0][3] == "stop"
    for batch_size in (2, len(items)):
        with make_backend("hf", cfg=cfg, model=str(tiny_model_dir), dtype="float32", batch_size=batch_size) as b:
            assert _answers(b, items) == alone
            b.model.generation_config.eos_token_id = [*b.model.generation_config.eos_token_id, stop_token]
            assert _answers(b, items) == alone_stopping


def test_a_finished_row_is_cut_at_its_first_end_token(cfg, tiny_model_dir):
    from coderl.models.tiny import ENDOFTEXT_ID, IM_END_ID

    with make_backend("hf", cfg=cfg, model=str(tiny_model_dir), dtype="float32") as b:
        ids = b.tokenizer("x = 1")["input_ids"]
        rec = b._record(9, [*ids, IM_END_ID, ENDOFTEXT_ID, ENDOFTEXT_ID])
        assert rec == {
            "text": "x = 1",
            "token_ids": [*ids, IM_END_ID],
            "finish_reason": "stop",
            "prompt_tokens": 9,
            "completion_tokens": len(ids) + 1,
        }
        full = b._record(9, list(range(100, 112)))  # no end token within max_new_tokens (12): cut off
        assert full["finish_reason"] == "length" and full["completion_tokens"] == 12


def test_a_bad_batch_size_is_a_config_error(cfg, tiny_model_dir):
    with pytest.raises(ConfigError, match="batch_size"):
        make_backend("hf", cfg=cfg, model=str(tiny_model_dir), batch_size=0)


def test_device_defaults_to_a_gpu_when_torch_sees_one(cfg, tiny_model_dir):
    import torch

    b = make_backend("hf", cfg=cfg, model=str(tiny_model_dir))
    assert b.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert make_backend("hf", cfg=cfg, model=str(tiny_model_dir), device="cpu").device == "cpu"
    with pytest.raises(ConfigError, match="device 'gpu0'"):
        make_backend("hf", cfg=cfg, model=str(tiny_model_dir), device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="torch sees no CUDA GPU"):
            make_backend("hf", cfg=cfg, model=str(tiny_model_dir), device="cuda")


def test_eval_cli_passes_device_and_batch_size_to_the_hf_backend_only():
    import argparse

    from coderl.commands.eval import add_arguments
    from coderl.evaluation.options import backend_opts

    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--checkpoint", "x", "--backend", "hf", "--device", "cuda:1", "--batch-size", "8"])
    assert backend_opts(args, "hf") == {"device": "cuda:1", "batch_size": 8}
    assert backend_opts(args, "vllm") == {}
    assert backend_opts(p.parse_args(["--checkpoint", "x"]), "hf") == {"device": "auto", "batch_size": 1}
