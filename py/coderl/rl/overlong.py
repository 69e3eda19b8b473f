"""GRPO with overlong masking, registered as verl advantage estimator `coderl_grpo_overlong_masked`.

DAPO's "overlong filtering" (kept by DeepCoder): an answer cut at max_response_length is not
judged wrong for being long; it gives no gradient at all. verl 0.9.1 has no switch for it (its
DAPO reward manager only has the soft length *penalty*), so this estimator computes verl's own
GRPO advantages and sets them to 0 for truncated answers. With token-mean aggregation their
tokens still count in the denominator, so the other answers' gradient is scaled by the share of
untruncated tokens (DAPO removes them from the denominator too): a small, documented difference.

Truncated = the answer fills the whole response window (verl pads every response to
max_response_length): an answer that ends with EOS exactly on the last allowed token is
counted as truncated too.
"""

from __future__ import annotations

import torch
from verl.trainer.ppo import core_algos

NAME = "coderl_grpo_overlong_masked"


def truncated_rows(response_mask: torch.Tensor) -> torch.Tensor:
    """bool per answer: it used every token of the response window."""
    return response_mask.sum(dim=-1) >= response_mask.shape[-1]


def compute_grpo_overlong_masked_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index,
    epsilon: float = 1e-6,
    norm_adv_by_std_in_grpo: bool = True,
    config=None,
    **kwargs,
):
    norm = config.get("norm_adv_by_std_in_grpo", True) if config is not None else norm_adv_by_std_in_grpo
    advantages, returns = core_algos.compute_grpo_outcome_advantage(
        token_level_rewards=token_level_rewards,
        response_mask=response_mask,
        index=index,
        epsilon=epsilon,
        norm_adv_by_std_in_grpo=norm,
        config=config,
    )
    cut = truncated_rows(response_mask)
    advantages = advantages.masked_fill(cut.unsqueeze(-1), 0.0)
    returns = returns.masked_fill(cut.unsqueeze(-1), 0.0)
    return advantages, returns


if NAME not in core_algos.ADV_ESTIMATOR_REGISTRY:
    core_algos.register_adv_est(NAME)(compute_grpo_overlong_masked_advantage)
