"""Output-layer logits only for the tokens the SFT loss counts (prompt tokens skip the 152k-way layer).

verl 0.9.1's FSDP engine computes logits (tokens x vocabulary) for every packed token, then the
SFT loss multiplies the log-probs of prompt tokens by a zero mask. With a 152k vocabulary the
output layer is the largest single cost of a small model (the demo: 23% of a CPU step for the
projection alone, more with its softmax and backward), and prompts are most of a short sample.

Here the engine passes the positions whose (shifted) loss mask is set to the model as
transformers' `logits_to_keep` (an index tensor: the model slices the hidden states before the
output layer), computes those rows' log-probs, and scatters them into a zero vector over all
tokens, which is what the loss reads. The loss, its gradient and the logged metrics are unchanged:
masked-out positions contributed 0 before and contribute 0 now (tests/training/test_loss_token_logits.py
compares losses and gradients with the stock path on the real verl engine code).

Only the plain path is taken over: packed rows (remove padding), no sequence parallelism, no
static padding, no fused kernels, no entropy/distillation outputs; anything else runs verl's code
unchanged. Importing the module installs it (recipe key `training.loss_token_logits`, through
`model.external_lib`).
"""

from __future__ import annotations

import functools
import logging

import torch

log = logging.getLogger(__name__)

_KEEP = "coderl_loss_token_index"


def _plain_path(engine, micro_batch, output_args) -> bool:
    from verl.utils import tensordict_utils as tu

    get = functools.partial(tu.get_non_tensor_data, data=micro_batch)
    return (
        get(key="use_remove_padding", default=True)
        and not get(key="use_fused_kernels", default=False)
        and not get(key="calculate_entropy", default=False)
        and not get(key="calculate_sum_pi_squared", default=False)
        and not get(key="distillation_use_topk", default=False)
        and not get(key="distillation_only", default=False)
        and not getattr(engine, "use_ulysses_sp", False)
        and not output_args.get("pad_size")
        and output_args.get("temperature_is_one", False)
        and "loss_mask" in micro_batch.keys()
        and micro_batch["input_ids"].is_nested
    )


def install() -> bool:
    try:
        from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead
    except ImportError:
        return False
    if getattr(FSDPEngineWithLMHead.prepare_model_inputs, "_coderl", False):
        return True
    orig_inputs = FSDPEngineWithLMHead.prepare_model_inputs
    orig_outputs = FSDPEngineWithLMHead.prepare_model_outputs

    @functools.wraps(orig_inputs)
    def prepare_model_inputs(self, micro_batch):
        model_inputs, output_args = orig_inputs(self, micro_batch)
        if _plain_path(self, micro_batch, output_args):
            # log_prob[i] scores token i+1: the loss shifts its mask left by one (verl's sft_loss)
            mask = torch.roll(micro_batch["loss_mask"].values(), shifts=-1, dims=0)
            keep = mask.to(model_inputs["input_ids"].device).nonzero().squeeze(-1)
            model_inputs["logits_to_keep"] = keep
            output_args[_KEEP] = keep
        return model_inputs, output_args

    @functools.wraps(orig_outputs)
    def prepare_model_outputs(self, output, output_args, micro_batch, logits_processor_func):
        keep = output_args.pop(_KEEP, None)
        if keep is None:
            return orig_outputs(self, output, output_args, micro_batch, logits_processor_func)
        from verl.utils.torch_functional import logprobs_from_logits

        labels = output_args["input_ids_rmpad_rolled"]
        logits = output.logits.squeeze(0)  # (kept tokens, vocab)
        kept = logprobs_from_logits(logits=logits, labels=labels[keep])
        log_probs = torch.zeros(labels.shape[0], dtype=kept.dtype, device=kept.device).index_put((keep,), kept)
        cu_seqlens = micro_batch["input_ids"].offsets()
        return {"log_probs": torch.nested.nested_tensor_from_jagged(log_probs, cu_seqlens)}

    prepare_model_inputs._coderl = True
    FSDPEngineWithLMHead.prepare_model_inputs = prepare_model_inputs
    FSDPEngineWithLMHead.prepare_model_outputs = prepare_model_outputs
    log.info("coderl.training.in_verl.loss_token_logits: output-layer logits only for loss tokens")
    return True


install()
