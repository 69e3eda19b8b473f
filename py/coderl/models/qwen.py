"""The one table of Qwen2.5 shapes and the one builder of random-init Qwen2 models (real Qwen tokenizer).

Shared by the planner (coderl.training.plan), the MFU count (coderl.training.benchmarks.mfu), bench-train and
the tiny test/demo models (coderl.models.tiny).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError

# Qwen2.5's padded vocabulary (the tokenizer itself has 151,665 ids)
QWEN25_VOCAB_SIZE = 151936
IM_END_ID = 151645
ENDOFTEXT_ID = 151643


@dataclass(frozen=True)
class QwenShape:
    name: str
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int
    tie_word_embeddings: bool
    max_position_embeddings: int = field(default=32768, compare=False)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def params(self) -> dict[str, int]:
        h, i, L = self.hidden_size, self.intermediate_size, self.num_hidden_layers
        kv = self.num_key_value_heads * self.head_dim
        attn = h * h + h + 2 * (h * kv + kv) + h * h  # q (+bias), k/v (+bias), o
        mlp = 3 * h * i
        norms = 2 * h
        layer = attn + mlp + norms
        embed = self.vocab_size * h
        head = 0 if self.tie_word_embeddings else self.vocab_size * h
        total = embed + L * layer + h + head
        matmul = L * layer + self.vocab_size * h  # the LM head multiplies even when tied
        return {"total": total, "matmul": matmul, "embedding": embed}

    def to_hf_config(self) -> dict:
        return {
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "vocab_size": self.vocab_size,
            "tie_word_embeddings": self.tie_word_embeddings,
            "max_position_embeddings": self.max_position_embeddings,
            "rope_theta": 1000000.0,
            "rms_norm_eps": 1e-6,
        }


def _q(name: str, h: int, inter: int, layers: int, heads: int, kv: int, vocab: int, tied: bool) -> QwenShape:
    return QwenShape(name, h, inter, layers, heads, kv, vocab, tied)


# The real Qwen2.5 configs (the Coder and Instruct variants share their base model's shape)
SHAPES: dict[str, QwenShape] = {
    "0.5b": _q("Qwen2.5-0.5B", 896, 4864, 24, 14, 2, 151936, True),
    "1.5b": _q("Qwen2.5-1.5B", 1536, 8960, 28, 12, 2, 151936, True),
    "3b": _q("Qwen2.5-3B", 2048, 11008, 36, 16, 2, 151936, True),
    "7.6b": _q("Qwen2.5-Coder-7B", 3584, 18944, 28, 28, 4, 152064, False),
    "14b": _q("Qwen2.5-14B", 5120, 13824, 48, 40, 8, 152064, False),
    "32b": _q("Qwen2.5-32B", 5120, 27648, 64, 40, 8, 152064, False),
    # CPU shape of tests and the smoke: same code path, seconds per step (coderl.models.tiny's default)
    "tiny": QwenShape("tiny-qwen2", 128, 256, 2, 2, 1, QWEN25_VOCAB_SIZE, True, max_position_embeddings=4096),
}
# hub size names -> table keys ("7B" is the 7.6B model)
HUB_SIZES = {"0.5B": "0.5b", "1.5B": "1.5b", "3B": "3b", "7B": "7.6b", "14B": "14b", "32B": "32b"}


def shape(name: str) -> QwenShape:
    try:
        return SHAPES[name.lower()]
    except KeyError:
        raise ConfigError(f"unknown model shape '{name}'; choose one of {', '.join(SHAPES)}") from None


def build_qwen2(
    out_dir: str | Path, shp: QwenShape, *, dtype: str = "bfloat16", device: str = "cpu", seed: int = 0
) -> Path:
    """A loadable random-init HF model folder: config, safetensors, the real Qwen tokenizer, generation config.

    Initialized under `torch.manual_seed(seed)` directly in `dtype` on `device` (a GPU initializes a
    7B model in seconds), written to a sibling folder first so a killed build is never mistaken for
    a model.
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from .tokenizer import write_qwen25_tokenizer

    out = Path(out_dir)
    cfg = Qwen2Config(
        **shp.to_hf_config(),
        bos_token_id=ENDOFTEXT_ID,
        eos_token_id=IM_END_ID,
        pad_token_id=ENDOFTEXT_ID,
        torch_dtype=dtype,
    )
    torch.manual_seed(seed)
    prev = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        with torch.device(device):
            model = Qwen2ForCausalLM(cfg)
    finally:
        torch.set_default_dtype(prev)
    model.generation_config.eos_token_id = [IM_END_ID, ENDOFTEXT_ID]
    model.generation_config.pad_token_id = ENDOFTEXT_ID
    model.generation_config.do_sample = False
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True, max_shard_size="5GB")
    write_qwen25_tokenizer(tmp)
    (tmp / "coderl_shape.json").write_text(json.dumps({"shape": shp.name, "dtype": dtype, "seed": seed}))
    del model
    out.mkdir(parents=True, exist_ok=True)
    for f in tmp.iterdir():  # out may be an existing (empty) folder, e.g. a test's tmp dir
        f.replace(out / f.name)
    tmp.rmdir()
    return out
