"""The server's context is sized from the longest planned prompt (real Qwen tokenizer, real HumanEval prompts)."""

from __future__ import annotations

import dataclasses

import pytest

from coderl.config import load_eval_config
from coderl.errors import ConfigError
from coderl.generation.context import (
    check_served_context,
    load_tokenizer,
    longest_prompt,
    prompt_tokens,
    serving_max_model_len,
)
from coderl.generation.prompts import build_messages
from coderl.generation.vllm_server import vllm_command
from coderl.sandbox import samples


@pytest.fixture(scope="module")
def humaneval_prompts():
    cfg = load_eval_config()
    return [(f"humaneval/{p.id}", build_messages(p, cfg)) for p, _ in samples.humaneval()]


def _cfg(max_new_tokens: int, max_model_len: int):
    cfg = load_eval_config()
    return dataclasses.replace(
        cfg,
        generation={**cfg.generation, "max_new_tokens": max_new_tokens},
        serving={**cfg.serving, "max_model_len": max_model_len},
    )


def test_context_fits_the_longest_prompt_and_refuses_what_the_model_cannot_hold(tiny_model_dir, humaneval_prompts):
    """Proves the context is the longest prompt (counted with the chat template) plus max_new_tokens
    when that passes serving.max_model_len, never more than the model holds, and that a need beyond
    the model's max_position_embeddings (4096 for the tiny model) refuses to start, naming the prompt."""
    tok = load_tokenizer(str(tiny_model_dir))
    need = longest_prompt(tok, humaneval_prompts, 2048)
    counts = {w: prompt_tokens(tok, m) for w, m in humaneval_prompts}
    assert (
        need.longest_prompt_tokens == max(counts.values())
        and counts[need.longest_problem] == need.longest_prompt_tokens
    )
    assert 300 < need.longest_prompt_tokens < 2000
    assert prompt_tokens(tok, [{"role": "user", "content": "hi"}]) == len(
        tok.apply_chat_template(
            [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=True, return_dict=False
        )
    )
    model = str(tiny_model_dir)
    assert serving_max_model_len(_cfg(2048, 1024), model, need) == need.tokens  # raised to fit
    assert serving_max_model_len(_cfg(2048, need.tokens + 100), model, need) == need.tokens + 100  # the floor
    assert serving_max_model_len(_cfg(2048, 6144), model, need) == 4096  # capped by the model
    big = longest_prompt(tok, humaneval_prompts, 4096 - need.longest_prompt_tokens + 1)
    with pytest.raises(ConfigError, match=rf"{need.longest_problem}.*needs a context of 4097 tokens.*holds 4096"):
        serving_max_model_len(_cfg(big.max_new_tokens, 1024), model, big)
    cmd = vllm_command(
        model, _cfg(2048, 1024), python="python", port=1, served_model_name="m", max_model_len=need.tokens
    )
    assert cmd[cmd.index("--max-model-len") + 1] == str(need.tokens)


def test_a_running_server_too_small_is_refused_before_generating(tiny_model_dir, humaneval_prompts):
    """Proves --vllm-url against a server whose context cannot hold the longest prompt stops with what to do."""
    need = longest_prompt(load_tokenizer(str(tiny_model_dir)), humaneval_prompts, 2048)
    check_served_context(need.tokens, need, "http://h:1")
    check_served_context(None, need, "http://h:1")  # a server that does not say: checked by its answers
    with pytest.raises(
        ConfigError, match=rf"serves a context of {need.tokens - 1} tokens.*--max-model-len >= {need.tokens}"
    ):
        check_served_context(need.tokens - 1, need, "http://h:1")
