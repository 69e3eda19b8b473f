"""In-process transformers generation (tiny models on CPU, small ones on a GPU): same prompts, same sampling settings.

The device defaults to the first GPU when torch sees one (`device="auto"`), else the CPU.

Greedy decoding can take several problems per forward pass (`batch_size`): prompts are left-padded
with an attention mask, so every row sees exactly its own tokens at its own positions. On the tiny
fp32 models this backend serves, batched greedy answers equal one-at-a-time answers token for token
(tests/generation/test_hf_backend.py checks it); in low precision padding can change low-order bits and hence a
greedy token, so batch_size defaults to 1 (each answer is what the model gives that prompt alone).
Sampling always runs one problem at a time (one seeded draw per problem). The chat template is the
model folder's own, applied exactly as an OpenAI server applies it (add_generation_prompt=True).
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Iterable, Iterator

from ..errors import ConfigError, GenerationError
from .base import Backend, Item, greedy_params
from .records import Generation

log = logging.getLogger(__name__)


def resolve_device(device: str | None) -> str:
    """auto (or None): the first GPU when torch sees one, else the CPU; cpu, cuda, cuda:N as given."""
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(device, str) or not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise ConfigError(f"hf backend: device {device!r}: expected auto, cpu, cuda or cuda:N")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"hf backend: device {device} but torch sees no CUDA GPU (torch {torch.__version__}); use --device cpu"
        )
    return device


class HFBackend(Backend):
    name = "hf"

    def __init__(self, model: str, cfg, *, dtype: str | None = None, device: str = "auto", batch_size: int = 1):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"hf backend: batch_size must be a positive integer, got {batch_size!r}")
        device = resolve_device(device)
        self.model_path = model
        self.cfg = cfg
        self.params = greedy_params(cfg)
        # dtype defaults to the serving dtype so that hf and a server give the same numbers
        self.dtype = dtype or str(cfg.serving["dtype"])
        self.device = device
        self.batch_size = batch_size
        self.model = None
        self.tokenizer = None

    def __enter__(self) -> HFBackend:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
            torch_dtype = "auto" if self.dtype == "auto" else getattr(torch, self.dtype)
            self.model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=torch_dtype).to(self.device).eval()
        except (OSError, ValueError) as e:
            raise GenerationError(
                f"cannot load {self.model_path} with transformers ({e}); pass a Hugging Face model "
                "folder (a checkpoint's huggingface/)"
            ) from None
        log.info("hf backend: %s (%s, %s, batch %d)", self.model_path, self.dtype, self.device, self.batch_size)
        return self

    def close(self) -> None:
        self.model = None

    def _eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def _pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id

    def _prompt_ids(self, messages: list[dict]) -> list[int]:
        return list(
            self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)[
                "input_ids"
            ]
        )

    def _generate_kwargs(self) -> dict:
        import torch

        p = self.params
        kwargs = {
            "max_new_tokens": p["max_new_tokens"],
            "eos_token_id": sorted(self._eos_ids()),
            "pad_token_id": self._pad_id(),
        }
        if p["temperature"] == 0.0:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            torch.manual_seed(p["seed"])
            kwargs.update(do_sample=True, temperature=p["temperature"], top_p=p["top_p"], top_k=None)
        return kwargs

    def _record(self, prompt_len: int, new: list[int]) -> dict:
        """Cut a row at its first end-of-sequence token (a batch pads finished rows) and describe it."""
        eos = self._eos_ids()
        stop_at = next((i for i, t in enumerate(new) if t in eos), None)
        if stop_at is not None:
            new = new[: stop_at + 1]
        stopped = stop_at is not None
        text_ids = new[:-1] if stopped else new
        return {
            "text": self.tokenizer.decode(text_ids, skip_special_tokens=True),
            "token_ids": new,
            "finish_reason": "stop" if stopped or len(new) < self.params["max_new_tokens"] else "length",
            "prompt_tokens": prompt_len,
            "completion_tokens": len(new),
        }

    def generate_one(self, messages: list[dict]) -> dict:
        return self.generate_batch([messages])[0]

    def generate_batch(self, batch: list[list[dict]]) -> list[dict]:
        """Greedy (or, for one prompt, sampled) answers for several prompts in one generate() call."""
        import torch

        prompts = [self._prompt_ids(m) for m in batch]
        width = max(len(ids) for ids in prompts)
        pad = self._pad_id()
        # left padding: every row's last prompt token sits at the same column, where generation starts
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in prompts], device=self.device)
        attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in prompts], device=self.device)
        with torch.no_grad():
            out = self.model.generate(input_ids=input_ids, attention_mask=attention, **self._generate_kwargs())
        return [self._record(len(ids), out[row, width:].tolist()) for row, ids in enumerate(prompts)]

    def _batches(self, items: Iterable[Item]) -> Iterator[list[Item]]:
        # sampling draws one seeded answer per problem, as one-at-a-time generation does
        size = self.batch_size if self.params["temperature"] == 0.0 else 1
        it = iter(items)
        while chunk := list(itertools.islice(it, size)):
            yield chunk

    def generate(self, items: Iterable[Item]) -> Iterator[Generation]:
        if self.model is None:
            self.__enter__()
        for chunk in self._batches(items):
            t0 = time.monotonic()
            try:
                outs = self.generate_batch([messages for _, messages in chunk])
            except (RuntimeError, ValueError) as e:  # e.g. out of memory, a prompt longer than the model allows
                if len(chunk) > 1:  # find the problem that fails, answer the others
                    yield from (g for item in chunk for g in self.generate([item]))
                    continue
                problem = chunk[0][0]
                yield Generation.failed(
                    problem.id, problem.dataset, f"hf backend: {type(e).__name__}: {e}", time.monotonic() - t0
                )
                continue
            wall = (time.monotonic() - t0) / len(chunk)  # a batch's time, shared out
            for (problem, _), out in zip(chunk, outs):
                yield Generation(
                    id=problem.id,
                    dataset=problem.dataset,
                    completion=out["text"],
                    finish_reason=out["finish_reason"],
                    truncated=out["finish_reason"] == "length",
                    prompt_tokens=out["prompt_tokens"],
                    completion_tokens=out["completion_tokens"],
                    wall_s=wall,
                )
