"""coderl.training.in_verl.loss_token_logits: same SFT loss and gradients as verl's path, fewer logits.

Drives verl 0.9.1's own FSDPEngineWithLMHead.prepare_model_inputs / prepare_model_outputs and
verl's sft_loss on a tiny Qwen2 (no FSDP wrapping needed for these two methods): once through the
original methods, once through the patched ones.
"""

import pytest
import torch

pytest.importorskip("verl")

from verl.utils import tensordict_utils as tu  # noqa: E402
from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead  # noqa: E402
from verl.workers.utils.losses import sft_loss  # noqa: E402

ORIG_IN = FSDPEngineWithLMHead.prepare_model_inputs
ORIG_OUT = FSDPEngineWithLMHead.prepare_model_outputs

from coderl.training.in_verl import loss_token_logits  # noqa: E402  (installs the patch)


def _engine():
    eng = object.__new__(FSDPEngineWithLMHead)  # only the attributes these two methods read
    eng.pad_to_length, eng.use_ulysses_sp, eng.pass_packed_cu_seqlens = False, False, False
    return eng


def _micro_batch(lengths, prompt_lens, vocab, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = [torch.randint(0, vocab, (n,), generator=g) for n in lengths]
    masks = [
        torch.cat([torch.zeros(p, dtype=torch.long), torch.ones(n - p, dtype=torch.long)])
        for n, p in zip(lengths, prompt_lens)
    ]
    nested = lambda ts: torch.nested.as_nested_tensor(ts, layout=torch.jagged)  # noqa: E731
    total = sum(m.sum().item() for m in masks)
    return tu.get_tensordict(
        tensor_dict={
            "input_ids": nested(ids),
            "position_ids": nested([torch.arange(n) for n in lengths]),
            "loss_mask": nested(masks),
        },
        non_tensor_dict={
            "use_remove_padding": True,
            "pad_mode": "no_padding",
            "temperature": 1.0,
            "batch_num_tokens": total,
            "dp_size": 1,
        },
    )


def _loss_and_grads(model, eng, mb, prep_in, prep_out):
    model.zero_grad()
    inputs, out_args = prep_in(eng, mb)
    out = model(**inputs, use_cache=False)
    model_output = prep_out(eng, out, out_args, mb, None)
    loss, _ = sft_loss(None, model_output, mb)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}, inputs


def test_same_loss_and_gradients_with_logits_only_for_loss_tokens():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(
        vocab_size=1000,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        tie_word_embeddings=True,
        attn_implementation="sdpa",
    )
    model = Qwen2ForCausalLM(cfg).float()
    mb = _micro_batch([17, 9, 30], [10, 4, 25], cfg.vocab_size)
    eng = _engine()
    ref_loss, ref_grads, ref_in = _loss_and_grads(model, eng, mb, ORIG_IN, ORIG_OUT)
    loss, grads, new_in = _loss_and_grads(
        model, eng, mb, FSDPEngineWithLMHead.prepare_model_inputs, FSDPEngineWithLMHead.prepare_model_outputs
    )
    assert "logits_to_keep" not in ref_in
    # 56 packed tokens, 17 scored (the mask shifted left by one, as sft_loss reads it)
    assert new_in["logits_to_keep"].numel() == 17
    assert torch.allclose(loss, ref_loss, rtol=1e-6, atol=1e-6), (loss, ref_loss)
    for name, g in ref_grads.items():
        assert torch.allclose(grads[name], g, rtol=1e-4, atol=1e-6), name


def test_other_paths_are_left_to_verl():
    mb = _micro_batch([5, 6], [2, 3], 50)
    tu.assign_non_tensor(mb, calculate_entropy=True)  # entropy needs every row's logits
    inputs, out_args = FSDPEngineWithLMHead.prepare_model_inputs(_engine(), mb)
    assert "logits_to_keep" not in inputs and loss_token_logits._KEEP not in out_args
