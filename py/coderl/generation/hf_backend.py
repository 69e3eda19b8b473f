"""In-process transformers generation (CPU, tiny models): same prompts, same sampling settings.

One problem at a time and unpadded, so each answer is what the model gives that prompt alone
(batching with padding can change low-order bits, hence greedy tokens). The chat template is the
model folder's own, applied exactly as an OpenAI server applies it (add_generation_prompt=True).
"""

from __future__ import annotations

import logging
import time
from typing import Iterable, Iterator

from ..errors import GenerationError
from .base import Backend, Item, greedy_params
from .records import Generation

log = logging.getLogger(__name__)


class HFBackend(Backend):
    name = "hf"

    def __init__(self, model: str, cfg, *, dtype: str | None = None, device: str = "cpu"):
        self.model_path = model
        self.cfg = cfg
        self.params = greedy_params(cfg)
        # dtype defaults to the serving dtype so that hf and a server give the same numbers
        self.dtype = dtype or str(cfg.serving["dtype"])
        self.device = device
        self.model = None
        self.tokenizer = None

    def __enter__(self) -> "HFBackend":
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
            torch_dtype = "auto" if self.dtype == "auto" else getattr(torch, self.dtype)
            self.model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=torch_dtype).to(self.device).eval()
        except (OSError, ValueError) as e:
            raise GenerationError(f"cannot load {self.model_path} with transformers ({e}); pass a Hugging Face model "
                                  "folder (a checkpoint's huggingface/)") from None
        log.info("hf backend: %s (%s, %s)", self.model_path, self.dtype, self.device)
        return self

    def close(self) -> None:
        self.model = None

    def _eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def generate_one(self, messages: list[dict]) -> dict:
        import torch

        p = self.params
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                 return_dict=True)["input_ids"].to(self.device)
        kwargs = {"max_new_tokens": p["max_new_tokens"], "eos_token_id": sorted(self._eos_ids()),
                  "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id}
        if p["temperature"] == 0.0:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            torch.manual_seed(p["seed"])
            kwargs.update(do_sample=True, temperature=p["temperature"], top_p=p["top_p"], top_k=None)
        with torch.no_grad():
            out = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        new = out[0, ids.shape[1]:].tolist()
        eos = self._eos_ids()
        stopped = bool(new) and new[-1] in eos
        text_ids = new[:-1] if stopped else new
        return {"text": self.tokenizer.decode(text_ids, skip_special_tokens=True), "token_ids": new,
                "finish_reason": "stop" if stopped or len(new) < p["max_new_tokens"] else "length",
                "prompt_tokens": int(ids.shape[1]), "completion_tokens": len(new)}

    def generate(self, items: Iterable[Item]) -> Iterator[Generation]:
        if self.model is None:
            self.__enter__()
        for problem, messages in items:
            t0 = time.monotonic()
            try:
                out = self.generate_one(messages)
            except (RuntimeError, ValueError) as e:  # e.g. out of memory, a prompt longer than the model allows
                yield Generation.failed(problem.id, problem.dataset, f"hf backend: {type(e).__name__}: {e}",
                                        time.monotonic() - t0)
                continue
            yield Generation(id=problem.id, dataset=problem.dataset, completion=out["text"],
                             finish_reason=out["finish_reason"], truncated=out["finish_reason"] == "length",
                             prompt_tokens=out["prompt_tokens"], completion_tokens=out["completion_tokens"],
                             wall_s=time.monotonic() - t0)
