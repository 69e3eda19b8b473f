"""Tiny random-init Qwen2 models with the real Qwen tokenizer: the stand-in for hub weights here.

head_dim is kept >= 64 so that vLLM's CPU backend can serve the same model the tests train.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .tokenizer import write_qwen25_tokenizer

# Qwen2.5's padded vocabulary (the tokenizer itself has 151,665 ids)
QWEN25_VOCAB_SIZE = 151936
IM_END_ID = 151645
ENDOFTEXT_ID = 151643


@dataclass(frozen=True)
class TinyQwen2Spec:
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    num_key_value_heads: int = 1
    intermediate_size: int = 256
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = True
    seed: int = 0

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


def build_tiny_qwen2(out_dir: str | Path, spec: TinyQwen2Spec = TinyQwen2Spec(), dtype: str = "float32") -> Path:
    """Write a loadable HF model folder (config, safetensors, tokenizer, generation config)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = Qwen2Config(
        vocab_size=QWEN25_VOCAB_SIZE,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=spec.tie_word_embeddings,
        bos_token_id=ENDOFTEXT_ID,
        eos_token_id=IM_END_ID,
        pad_token_id=ENDOFTEXT_ID,
        rope_theta=1000000.0,
        torch_dtype=dtype,
    )
    torch.manual_seed(spec.seed)
    model = Qwen2ForCausalLM(config).to(getattr(torch, dtype))
    model.generation_config.eos_token_id = [IM_END_ID, ENDOFTEXT_ID]
    model.generation_config.pad_token_id = ENDOFTEXT_ID
    model.generation_config.do_sample = False
    model.save_pretrained(out, safe_serialization=True)
    write_qwen25_tokenizer(out)
    (out / "coderl_tiny_spec.json").write_text(json.dumps(asdict(spec), indent=2))
    return out
