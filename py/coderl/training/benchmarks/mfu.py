"""The MFU count used by `make bench-train`, the same for every recipe (shapes: coderl.models.qwen).

MFU = model FLOPs per second / (GPUs x the card's dense bf16 peak). Model FLOPs per step:

    6 * N * tokens                       (forward + backward of every matmul weight; N excludes the
                                          input embedding, a lookup, and includes the LM head)
  + 6 * layers * q_dim * sum_i(s_i^2)    (causal attention scores and values: 4*s^2*q_dim per layer
                                          forward, halved by causality, x3 for backward)

Recomputation from gradient checkpointing is not counted (it is overhead, not model work), so a
recipe cannot raise its MFU by doing more arithmetic.
"""

from __future__ import annotations

from ...errors import ConfigError
from ...models.qwen import SHAPES, QwenShape, shape

__all__ = ["PEAK_BF16_TFLOPS", "SHAPES", "QwenShape", "mfu", "peak_tflops", "shape", "step_flops"]

# Dense bf16 peak (no sparsity), vendor datasheets. H100 and H200 share the GH100 compute die.
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "RTX 5090": 209.5, "RTX PRO 6000": 503.8, "cpu": 1.0}


def step_flops(s: QwenShape, tokens: float, sum_sq_len: float) -> float:
    """Model FLOPs of one optimizer step over `tokens` tokens whose per-sample lengths square-sum to sum_sq_len."""
    return 6.0 * s.params()["matmul"] * tokens + 6.0 * s.num_hidden_layers * s.hidden_size * sum_sq_len


def peak_tflops(gpu_name: str) -> tuple[str, float]:
    """(matched key, dense bf16 TFLOP/s) for a device name such as 'NVIDIA H100 80GB HBM3'."""
    for key, val in PEAK_BF16_TFLOPS.items():
        if key.lower() in gpu_name.lower():
            return key, val
    raise ConfigError(
        f"no bf16 peak known for GPU '{gpu_name}'; add it to coderl.training.benchmarks.mfu.PEAK_BF16_TFLOPS"
    )


def mfu(s: QwenShape, tokens_per_s: float, attn_len: float, n_gpus: int, peak_tflops_per_gpu: float) -> float:
    """Fraction of peak: tokens_per_s over all GPUs; attn_len = E[s^2]/E[s] of the data."""
    flops_per_token = 6.0 * s.params()["matmul"] + 6.0 * s.num_hidden_layers * s.hidden_size * attn_len
    return tokens_per_s * flops_per_token / (n_gpus * peak_tflops_per_gpu * 1e12)
