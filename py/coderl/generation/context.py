"""Size the server's context (max_model_len) from the longest prompt it will be sent.

A prompt of P tokens needs a context of P + generation.max_new_tokens; a server with less
refuses the request with HTTP 400 (deterministic: the same on every retry). So before a server
starts, the prompts of every planned problem (from the manifests) are counted with the model's
own tokenizer and chat template: the server is started with a context that fits the longest,
and refused to start when the model itself cannot hold it (its max_position_embeddings).
The configured serving.max_model_len is a floor, never the cap.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContextNeed:
    longest_prompt_tokens: int
    longest_problem: str  # dataset/id of the longest prompt
    max_new_tokens: int

    @property
    def tokens(self) -> int:
        return self.longest_prompt_tokens + self.max_new_tokens


def load_tokenizer(model: str, local_only: bool = True):
    """The model's tokenizer: a local folder, or a hub id (from the local cache when local_only)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model, local_files_only=local_only)


def prompt_tokens(tokenizer, messages: list[dict]) -> int:
    """Tokens of the prompt as the server builds it: the chat template's text, then its tokens."""
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def longest_prompt(tokenizer, items: Iterable[tuple[str, list[dict]]], max_new_tokens: int) -> ContextNeed:
    """items: (dataset/id, chat messages). Token counts as the server's chat template makes them."""
    best = (0, "")
    for where, messages in items:
        best = max(best, (prompt_tokens(tokenizer, messages), where))
    return ContextNeed(best[0], best[1], int(max_new_tokens))


def model_context_limit(model: str) -> int | None:
    """max_position_embeddings of the model's config (None when unknown)."""
    p = Path(model) / "config.json"
    if p.is_file():
        v = json.loads(p.read_text(encoding="utf-8")).get("max_position_embeddings")
    else:
        try:
            from transformers import AutoConfig

            v = getattr(AutoConfig.from_pretrained(model), "max_position_embeddings", None)
        except Exception:  # noqa: BLE001 - unknown: the server will say
            return None
    return int(v) if isinstance(v, int) and v > 0 else None


def serving_max_model_len(cfg, model: str, need: ContextNeed) -> int:
    """The context to start the server with: max(serving.max_model_len, what the longest prompt needs);
    ConfigError when the model cannot hold it."""
    limit = model_context_limit(model)
    if limit is not None and need.tokens > limit:
        raise ConfigError(
            f"the longest prompt ({need.longest_problem}, {need.longest_prompt_tokens} tokens) plus "
            f"generation.max_new_tokens ({need.max_new_tokens}) needs a context of {need.tokens} tokens, but "
            f"{model} holds {limit} (max_position_embeddings); lower generation.max_new_tokens in the eval "
            "config or leave that dataset out; the server was not started"
        )
    floor = int(cfg.serving["max_model_len"])
    if need.tokens > floor:
        log.info(
            "serving context raised from serving.max_model_len %d to %d: %s has %d prompt tokens + %d new",
            floor,
            need.tokens,
            need.longest_problem,
            need.longest_prompt_tokens,
            need.max_new_tokens,
        )
    size = max(floor, need.tokens)
    return min(size, limit) if limit is not None else size  # a floor above the model's own limit: the limit


def check_served_context(served_len: int | None, need: ContextNeed, url: str) -> None:
    """A running server (--vllm-url) that cannot hold the longest prompt: refuse before generating."""
    if served_len is not None and need.tokens > served_len:
        raise ConfigError(
            f"the server at {url} serves a context of {served_len} tokens, but the longest prompt "
            f"({need.longest_problem}, {need.longest_prompt_tokens} tokens) plus generation.max_new_tokens "
            f"({need.max_new_tokens}) needs {need.tokens}: restart it with --max-model-len >= {need.tokens} "
            "(coderl serve sizes it itself)"
        )
