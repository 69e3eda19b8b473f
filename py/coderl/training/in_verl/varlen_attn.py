"""Packed-sequence attention through PyTorch's own varlen flash kernel, for boxes without flash-attn.

With verl's remove-padding path (model.use_remove_padding=True) a micro batch reaches the model as
ONE row of concatenated samples, whose position_ids restart at 0 at every sample. flash-attn's
varlen kernel attends within each sample only. Without flash-attn, `sdpa` gets a dense
block-diagonal mask that transformers builds from those position_ids: O(total_tokens^2) memory
per layer and the slow masked kernel. PyTorch (>= 2.9) ships a varlen flash kernel
(`torch.nn.attention.varlen.varlen_attn`), so this module registers it with transformers as the
attention implementation "coderl_varlen". The math is the same causal softmax attention per
sample; only the kernel differs.

verl imports it through `model.external_lib=coderl.training.in_verl.varlen_attn` (before the model is
built) and the recipe sets `+model.override_config.attn_implementation=coderl_varlen`.
"""

from __future__ import annotations

import inspect
import logging
import weakref

import torch

from ...errors import TrainingError

log = logging.getLogger(__name__)

NAME = "coderl_varlen"

# The boundaries of the last packed row seen, computed once per forward and reused by every layer.
# Keyed on the position_ids tensor object itself (a weak reference: a dead tensor never matches) and
# its in-place version. Its address is no key: the CUDA caching allocator hands a freed block to the
# next micro batch's position_ids, which then has the same address, shape and version (0).
_cache: dict = {}


def _cu_seqlens(position_ids: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Sample boundaries of a packed row from its position_ids (a new sample starts where position == 0)."""
    ref = _cache.get("tensor")
    if ref is not None and ref() is position_ids and _cache["version"] == position_ids._version:
        return _cache["cu"], _cache["max"]
    pos = position_ids.reshape(-1)
    starts = torch.nonzero(pos == 0, as_tuple=False).flatten().to(torch.int32)
    total = torch.tensor([pos.numel()], dtype=torch.int32, device=pos.device)
    cu = torch.cat([starts, total])
    max_len = int((cu[1:] - cu[:-1]).max())  # one host sync per forward (cached across the layers)
    _cache.update(tensor=weakref.ref(position_ids), version=position_ids._version, cu=cu, max=max_len)
    return cu, max_len


def _kernel():
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError as e:  # torch < 2.9
        raise TrainingError(
            f"attn_implementation={NAME} needs torch.nn.attention.varlen (PyTorch >= 2.9); "
            f"this is torch {torch.__version__}: use attn_implementation=sdpa"
        ) from e
    params = inspect.signature(varlen_attn).parameters
    return varlen_attn, params


def varlen_attention_forward(
    module,
    query,
    key,
    value,
    attention_mask,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs,
):
    """transformers attention interface: query/key/value are (batch, heads, seq, head_dim)."""
    if attention_mask is not None:
        raise TrainingError(
            f"attn_implementation={NAME} handles packed rows only (no padding mask); "
            "set model.use_remove_padding=True and data.pad_mode=no_padding, or use sdpa"
        )
    if dropout:
        raise TrainingError(f"attn_implementation={NAME} has no attention dropout; Qwen2 trains with 0.0")
    varlen_attn, params = _kernel()
    b, hq, s, d = query.shape
    hkv = key.shape[1]
    position_ids = kwargs.get("position_ids")
    if b == 1 and position_ids is not None:
        cu, max_len = _cu_seqlens(position_ids)
    else:  # unpacked batch of equal-length rows
        cu = torch.arange(0, (b + 1) * s, s, dtype=torch.int32, device=query.device)
        max_len = s
    q = query.transpose(1, 2).reshape(b * s, hq, d)
    k = key.transpose(1, 2).reshape(b * s, hkv, d)
    v = value.transpose(1, 2).reshape(b * s, hkv, d)
    extra = {}
    if hkv != hq:
        if "enable_gqa" in params:
            extra["enable_gqa"] = True
        else:  # older kernels: expand the shared K/V heads
            k = k.repeat_interleave(hq // hkv, dim=1)
            v = v.repeat_interleave(hq // hkv, dim=1)
    causal = True if is_causal is None else is_causal
    if "is_causal" in params:
        extra["is_causal"] = causal
    elif causal:
        extra["window_size"] = (-1, 0)
    if scaling is not None and "scale" in params:
        extra["scale"] = scaling
    out = varlen_attn(q, k, v, cu, cu, max_len, max_len, **extra)
    return out.reshape(b, s, hq, d), None


def register() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(NAME, varlen_attention_forward)
    log.info("registered attention implementation %s (torch.nn.attention.varlen)", NAME)


register()


def check_against_sdpa(device: str = "cuda", seed: int = 0) -> dict:
    """Relative error of outputs and input gradients vs per-sample causal sdpa in float32 (bf16 inputs).

    Run on the GPU machine (the varlen kernel has no CPU implementation): fresh random inputs,
    uneven sample lengths, GQA heads as in Qwen2.5-7B (28 query / 4 key-value heads, head_dim 128).
    """
    import torch.nn.functional as F

    g = torch.Generator(device="cpu").manual_seed(seed)
    lens = [1000, 37, 2048, 513, 1]
    hq, hkv, d = 28, 4, 128
    total = sum(lens)
    q, k, v = (
        torch.randn(1, h, total, d, generator=g).to(device, torch.bfloat16).requires_grad_() for h in (hq, hkv, hkv)
    )
    pos = torch.cat([torch.arange(n) for n in lens]).unsqueeze(0).to(device)
    out, _ = varlen_attention_forward(None, q, k, v, None, scaling=d**-0.5, position_ids=pos)
    dout = torch.randn(out.shape, generator=g).to(device, torch.bfloat16)
    (out * dout).sum().backward()
    refs = []
    qr, kr, vr = (t.detach().double().requires_grad_() for t in (q, k, v))
    start = 0
    for n in lens:
        sl = slice(start, start + n)
        o = F.scaled_dot_product_attention(
            qr[:, :, sl],
            kr[:, :, sl].repeat_interleave(hq // hkv, 1),
            vr[:, :, sl].repeat_interleave(hq // hkv, 1),
            is_causal=True,
        )
        refs.append(o.transpose(1, 2))
        start += n
    ref = torch.cat(refs, dim=1)
    (ref * dout.double()).sum().backward()

    def rel(a, b):
        return float((a.double() - b).norm() / b.norm())

    return {"out": rel(out, ref), "dq": rel(q.grad, qr.grad), "dk": rel(k.grad, kr.grad), "dv": rel(v.grad, vr.grad)}


if __name__ == "__main__":
    import json

    print(json.dumps({"varlen_vs_sdpa_fp64_rel_err": check_against_sdpa()}))
