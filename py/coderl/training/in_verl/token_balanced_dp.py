"""Spread each optimizer step's samples over the data-parallel ranks by tokens, not by position.

verl 0.9.1's SFT trainer hands rank r the samples at positions r, r+dp, r+2dp, ... of the shuffled
order (torch's DistributedSampler), so with samples of very different lengths one GPU of a step
gets far more tokens than another; `data.balance_dp_token` is in verl's config but not implemented
("to be implement"). FSDP2 waits for the slowest rank at every gradient reduce-scatter, so the step
takes as long as the rank with the most tokens. With the runbook's lengths (log-normal, mean ~1.35k,
max 4k) and 16 samples per step, the busiest rank has on average 1.39x the mean on 4 GPUs and 1.14x
on 2 (simulated, docs/throughput.md).

TokenBalancedSampler keeps every step's global batch exactly as verl's sampler forms it (the same
16 samples from the same shuffled order, seed and epoch), and only reassigns those samples to the
ranks: equal counts per rank, near-equal token sums (`partition_equal_count`). verl normalizes the
loss by the global batch's token count, so the gradient is the same sum over the same tokens: the
math does not change. Every rank computes the same assignment from the same inputs; nothing is
communicated.

verl imports this module in every rank before it builds its data loaders (`model.external_lib`);
importing it replaces the sampler class verl's SFT trainer uses. Datasets that do not expose
`token_lengths` and `global_batch_size` (ours: coderl.training.in_verl.pretokenized) keep verl's order.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence

from torch.utils.data import DistributedSampler

log = logging.getLogger(__name__)


def partition_equal_count(lengths: Sequence[int], k: int) -> list[list[int]]:
    """Split positions 0..n-1 into k groups of n/k each with near-equal sums of `lengths`.

    Longest first onto the lightest group with room, then swaps between the heaviest group and the
    others while that lowers the heaviest sum. For 16 samples of the runbook's lengths the busiest
    group averages 1.025x the mean on 4 ranks and 1.001x on 2 (verl's equal-size Karmarkar-Karp:
    1.087x and 1.011x; simulated, docs/throughput.md).
    """
    n = len(lengths)
    if k < 1 or n % k:
        raise ValueError(f"{n} samples do not split into {k} equal groups")
    size = n // k
    groups: list[list[int]] = [[] for _ in range(k)]
    sums = [0] * k
    for j in sorted(range(n), key=lambda j: (-lengths[j], j)):
        g = min((i for i in range(k) if len(groups[i]) < size), key=lambda i: (sums[i], i))
        groups[g].append(j)
        sums[g] += lengths[j]
    for _ in range(4 * n):  # each swap strictly lowers the heaviest group's sum; bounded anyway
        h = max(range(k), key=lambda i: (sums[i], -i))
        best = None
        for o in range(k):
            if o == h:
                continue
            for a in groups[h]:
                for c in groups[o]:
                    d = lengths[a] - lengths[c]
                    heavier = max(sums[h] - d, sums[o] + d)  # the larger of the two sums after the swap
                    if d > 0 and heavier < sums[h] and (best is None or heavier < best[0]):
                        best = (heavier, o, a, c)
        if best is None:
            break
        _, o, a, c = best
        groups[h][groups[h].index(a)], groups[o][groups[o].index(c)] = c, a
        d = lengths[a] - lengths[c]
        sums[h] -= d
        sums[o] += d
    return groups


def balanced_order(perm: Sequence[int], lengths: Sequence[int], block: int, num_replicas: int) -> list[list[int]]:
    """Per rank, the indices it trains on: each block of `block` consecutive entries of `perm` (one
    optimizer step) split into num_replicas equal-count groups of near-equal token sums.

    Entries after the last whole block keep DistributedSampler's interleaving (the data loader
    drops them with drop_last, as verl's does).
    """
    per_rank: list[list[int]] = [[] for _ in range(num_replicas)]
    n_blocks = len(perm) // block
    for k in range(n_blocks):
        ids = list(perm[k * block : (k + 1) * block])
        parts = partition_equal_count([lengths[i] for i in ids], num_replicas)
        for r, part in enumerate(parts):
            per_rank[r].extend(ids[j] for j in sorted(part))
    tail = list(perm[n_blocks * block :])
    for r in range(num_replicas):
        per_rank[r].extend(tail[r::num_replicas])
    return per_rank


def imbalance(per_rank_blocks: list[list[int]], lengths: Sequence[int], per_rank: int) -> float:
    """Mean over steps of (tokens of the busiest rank) / (mean tokens per rank)."""
    n_steps = min(len(x) for x in per_rank_blocks) // per_rank
    ratios = []
    for k in range(n_steps):
        sums = [sum(lengths[i] for i in x[k * per_rank : (k + 1) * per_rank]) for x in per_rank_blocks]
        mean = sum(sums) / len(sums)
        if mean:
            ratios.append(max(sums) / mean)
    return sum(ratios) / len(ratios) if ratios else 1.0


class TokenBalancedSampler(DistributedSampler):
    """DistributedSampler with each step's samples reassigned to ranks by tokens (same global batches)."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
        self.lengths = getattr(dataset, "token_lengths", None)
        self.global_batch = getattr(dataset, "global_batch_size", None)
        self.enabled = bool(self.lengths) and bool(self.global_batch) and self.num_replicas > 1
        if self.enabled and self.global_batch % self.num_replicas:
            raise ValueError(
                f"token-balanced sampler: global batch {self.global_batch} does not divide by {self.num_replicas} ranks"
            )
        self._logged_epoch = None

    def _stock_split(self) -> list[list[int]]:
        """DistributedSampler's own per-rank lists for this epoch (its code, each rank in turn)."""
        rank = self.rank
        try:
            out = []
            for r in range(self.num_replicas):
                self.rank = r
                out.append(list(super().__iter__()))
            return out
        finally:
            self.rank = rank

    def __iter__(self) -> Iterator[int]:
        if not self.enabled:
            return super().__iter__()
        stock = self._stock_split()
        # the global order the split came from: position i went to rank i % dp
        perm = [stock[i % self.num_replicas][i // self.num_replicas] for i in range(self.total_size)]
        per_rank = balanced_order(perm, self.lengths, self.global_batch, self.num_replicas)
        if self.rank == 0 and self._logged_epoch != self.epoch:
            self._logged_epoch = self.epoch
            b = self.global_batch // self.num_replicas
            what = f"epoch {self.epoch}" if self.shuffle else "validation"
            print(
                f"[coderl] token-balanced ranks, {what}: busiest rank / mean tokens per step "
                f"{imbalance(stock, self.lengths, b):.3f} -> {imbalance(per_rank, self.lengths, b):.3f} "
                f"({self.num_replicas} ranks, {b} samples each)",
                flush=True,
            )
        mine = per_rank[self.rank]
        assert len(mine) == self.num_samples, (len(mine), self.num_samples)
        return iter(mine)


def install() -> None:
    """Make verl's SFT trainer build its train/val samplers with TokenBalancedSampler.

    `torchrun -m verl.trainer.sft_trainer` runs that file as __main__, a module object apart from
    an imported verl.trainer.sft_trainer: both get the sampler (the name is looked up at call time).
    """
    import verl.trainer.sft_trainer as sft_trainer

    main = sys.modules.get("__main__")
    for mod in (sft_trainer, main):
        if mod is not None and getattr(mod, "DistributedSampler", None) is DistributedSampler:
            mod.DistributedSampler = TokenBalancedSampler
    log.info("verl SFT trainer: samplers spread each step's samples over the ranks by tokens")


install()
