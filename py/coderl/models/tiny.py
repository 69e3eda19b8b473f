"""Tiny random-init Qwen2 models with the real Qwen tokenizer: the stand-in for hub weights here.

head_dim is kept >= 64 so that vLLM's CPU backend can serve the same model the tests train.
Built by the shared builder (coderl.models.qwen); the default spec is the table's "tiny" shape.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .qwen import ENDOFTEXT_ID, IM_END_ID, QWEN25_VOCAB_SIZE, SHAPES, QwenShape, build_qwen2

__all__ = ["ENDOFTEXT_ID", "IM_END_ID", "QWEN25_VOCAB_SIZE", "TinyQwen2Spec", "build_tiny_qwen2"]

_TINY = SHAPES["tiny"]


@dataclass(frozen=True)
class TinyQwen2Spec:
    hidden_size: int = _TINY.hidden_size
    num_hidden_layers: int = _TINY.num_hidden_layers
    num_attention_heads: int = _TINY.num_attention_heads
    num_key_value_heads: int = _TINY.num_key_value_heads
    intermediate_size: int = _TINY.intermediate_size
    max_position_embeddings: int = _TINY.max_position_embeddings
    tie_word_embeddings: bool = _TINY.tie_word_embeddings
    seed: int = 0

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def shape(self) -> QwenShape:
        return QwenShape(
            "tiny-qwen2",
            self.hidden_size,
            self.intermediate_size,
            self.num_hidden_layers,
            self.num_attention_heads,
            self.num_key_value_heads,
            QWEN25_VOCAB_SIZE,
            self.tie_word_embeddings,
            max_position_embeddings=self.max_position_embeddings,
        )


def build_tiny_qwen2(out_dir: str | Path, spec: TinyQwen2Spec = TinyQwen2Spec(), dtype: str = "float32") -> Path:
    """Write a loadable HF model folder (config, safetensors, tokenizer, generation config)."""
    out = build_qwen2(out_dir, spec.shape(), dtype=dtype, device="cpu", seed=spec.seed)
    (out / "coderl_tiny_spec.json").write_text(json.dumps(asdict(spec), indent=2))  # smoke: "a tiny model"
    return out
