"""coderl.training.in_verl.fast_logprobs: same log-probabilities and gradients as a float64 log_softmax."""

import pytest
import torch

from coderl.training.in_verl import fast_logprobs
from coderl.training.in_verl.fast_logprobs import token_logprobs


def _reference(logits, labels, weights):
    x = logits.detach().double().requires_grad_(True)
    lp = torch.log_softmax(x, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    (lp * weights).sum().backward()
    return lp.detach(), x.grad


def _rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-6), (torch.bfloat16, 1e-2)])
def test_matches_float64_with_several_chunks(monkeypatch, dtype, tol):
    # 5 rows per chunk over 23 rows: chunk edges, a short last chunk
    monkeypatch.setattr(fast_logprobs, "CHUNK_BYTES", 4 * 997 * 5)
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(23, 997, generator=g) * 3).to(dtype).requires_grad_(True)
    labels = torch.randint(0, 997, (23,), generator=g)
    weights = torch.rand(23, generator=g)
    ref_lp, ref_grad = _reference(logits, labels, weights)
    lp = token_logprobs(logits, labels)
    (lp * weights).sum().backward()
    assert lp.dtype == torch.float32 and lp.shape == (23,)
    assert _rel(lp, ref_lp) < tol
    assert logits.grad.dtype == dtype
    assert _rel(logits.grad, ref_grad) < tol


def test_batch_shape_kept():
    logits = torch.randn(2, 7, 50, requires_grad=True)
    labels = torch.randint(0, 50, (2, 7))
    lp = token_logprobs(logits, labels)
    assert lp.shape == (2, 7)
    ref = torch.log_softmax(logits.detach(), -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(lp, ref, atol=1e-5)


def test_installed_into_verl_fallback():
    tf = pytest.importorskip("verl.utils.torch_functional")
    assert fast_logprobs.install()
    assert tf.logprobs_from_logits_v2 is token_logprobs
    logits = torch.randn(9, 31, requires_grad=True)
    labels = torch.randint(0, 31, (9,))
    if not tf.FLAH_ATTN_CROSS_ENTROPY_LOSS_AVAILABLE:  # the path verl takes without flash-attn
        out = tf.logprobs_from_logits(logits, labels)
        ref = torch.log_softmax(logits.detach(), -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        assert torch.allclose(out, ref, atol=1e-5)
