"""Token log-probabilities in chunks of rows: replaces verl 0.9.1's per-token Python loop.

Without flash-attn installed, verl's `logprobs_from_logits` falls back to
`logprobs_from_logits_v2`, which computes `logsumexp` (fp32) or `log_softmax` (bf16) one ROW at a
time to bound memory. With packed rows (remove padding) a row is one token: a 16-sample step of
~22k tokens launches ~22k small forward kernels and their backward, ~0.1 ms each on a GPU. That
loop, not the model, was most of the step time (docs/throughput.md: ~4.4 s of a 0.5B step whose
arithmetic is ~0.07 s; the torch profiler showed thousands of `aten::logsumexp` per step).

Here the same math runs over chunks of rows sized to ~CHUNK_BYTES of fp32 each, in a custom
autograd function that saves only the logits (already alive), the labels and the per-row
logsumexp; the backward writes softmax - one-hot chunk by chunk into one gradient tensor.
Log-probabilities come out in fp32 (verl's bf16 path rounded them to bf16: the loss differs by
bf16 noise, never more; tests/training/test_fast_logprobs.py checks both against float64).

Importing this module installs it (verl imports it in every rank through `model.external_lib`).
"""

from __future__ import annotations

import logging

import torch

log = logging.getLogger(__name__)

CHUNK_BYTES = 512 * 2**20  # fp32 working set per chunk: ~880 rows of a 152k vocabulary


def _rows_per_chunk(vocab: int) -> int:
    return max(1, CHUNK_BYTES // (4 * max(vocab, 1)))


class _TokenLogProbs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        n, vocab = logits.shape
        step = _rows_per_chunk(vocab)
        lse = torch.empty(n, dtype=torch.float32, device=logits.device)
        for s in range(0, n, step):
            lse[s : s + step] = torch.logsumexp(logits[s : s + step].float(), dim=-1)
        picked = logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1).float()
        ctx.save_for_backward(logits, labels, lse)
        return picked - lse

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        logits, labels, lse = ctx.saved_tensors
        n, vocab = logits.shape
        step = _rows_per_chunk(vocab)
        grad = torch.empty_like(logits)
        g = grad_out.float()
        for s in range(0, n, step):
            gs = g[s : s + step].unsqueeze(-1)
            # d log p[label] / d logits = one_hot(label) - softmax(logits)
            chunk = torch.exp(logits[s : s + step].float() - lse[s : s + step].unsqueeze(-1)).mul_(-gs)
            chunk.scatter_add_(-1, labels[s : s + step].unsqueeze(-1), gs)
            grad[s : s + step] = chunk
        return grad, None


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[..., label] for logits (..., vocab) and labels (...); fp32 result."""
    batch_shape = logits.shape[:-1]
    out = _TokenLogProbs.apply(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).long())
    return out.view(batch_shape)


def install() -> bool:
    """Route verl's no-flash-attn fallback to `token_logprobs`; True when verl is there to patch."""
    try:
        from verl.utils import torch_functional as tf
    except ImportError:
        return False
    if getattr(tf.logprobs_from_logits_v2, "__module__", "") != __name__:
        tf.logprobs_from_logits_v2 = token_logprobs
        log.info("coderl.training.in_verl.fast_logprobs: verl's per-row logprob fallback replaced by chunked rows")
    return True


install()
