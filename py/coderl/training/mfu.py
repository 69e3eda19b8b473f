"""Model shapes and the MFU count used by `make bench-train`, the same for every recipe.

MFU = model FLOPs per second / (GPUs x the card's dense bf16 peak). Model FLOPs per step:

    6 * N * tokens                       (forward + backward of every matmul weight; N excludes the
                                          input embedding, a lookup, and includes the LM head)
  + 6 * layers * q_dim * sum_i(s_i^2)    (causal attention scores and values: 4*s^2*q_dim per layer
                                          forward, halved by causality, x3 for backward)

Recomputation from gradient checkpointing is not counted (it is overhead, not model work), so a
recipe cannot raise its MFU by doing more arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

# Dense bf16 peak (no sparsity), vendor datasheets. H100 and H200 share the GH100 compute die.
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "RTX 5090": 209.5, "RTX PRO 6000": 503.8, "cpu": 1.0}


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
        return {"hidden_size": self.hidden_size, "intermediate_size": self.intermediate_size,
                "num_hidden_layers": self.num_hidden_layers, "num_attention_heads": self.num_attention_heads,
                "num_key_value_heads": self.num_key_value_heads, "vocab_size": self.vocab_size,
                "tie_word_embeddings": self.tie_word_embeddings, "max_position_embeddings": 32768,
                "rope_theta": 1000000.0, "rms_norm_eps": 1e-6}


SHAPES = {
    # the real Qwen2.5 configs (Qwen2.5-0.5B-Instruct, Qwen2.5-Coder-7B-Instruct)
    "0.5b": QwenShape("Qwen2.5-0.5B", 896, 4864, 24, 14, 2, 151936, True),
    "7.6b": QwenShape("Qwen2.5-Coder-7B", 3584, 18944, 28, 28, 4, 152064, False),
    # CPU smoke shape for tests: same code path, seconds per step
    "tiny": QwenShape("tiny-qwen2", 128, 256, 2, 2, 1, 151936, True),
}


def shape(name: str) -> QwenShape:
    try:
        return SHAPES[name.lower()]
    except KeyError:
        raise ConfigError(f"unknown model shape '{name}'; choose one of {', '.join(SHAPES)}") from None


def step_flops(s: QwenShape, tokens: float, sum_sq_len: float) -> float:
    """Model FLOPs of one optimizer step over `tokens` tokens whose per-sample lengths square-sum to sum_sq_len."""
    return 6.0 * s.params()["matmul"] * tokens + 6.0 * s.num_hidden_layers * s.hidden_size * sum_sq_len


def peak_tflops(gpu_name: str) -> tuple[str, float]:
    """(matched key, dense bf16 TFLOP/s) for a device name such as 'NVIDIA H100 80GB HBM3'."""
    for key, val in PEAK_BF16_TFLOPS.items():
        if key.lower() in gpu_name.lower():
            return key, val
    raise ConfigError(f"no bf16 peak known for GPU '{gpu_name}'; add it to coderl.training.mfu.PEAK_BF16_TFLOPS")


def mfu(s: QwenShape, tokens_per_s: float, attn_len: float, n_gpus: int, peak_tflops_per_gpu: float) -> float:
    """Fraction of peak: tokens_per_s over all GPUs; attn_len = E[s^2]/E[s] of the data."""
    flops_per_token = 6.0 * s.params()["matmul"] + 6.0 * s.num_hidden_layers * s.hidden_size * attn_len
    return tokens_per_s * flops_per_token / (n_gpus * peak_tflops_per_gpu * 1e12)
