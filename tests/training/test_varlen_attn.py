"""The packed-row boundary cache of coderl.training.in_verl.varlen_attn only returns what the same tensor gave.

The CUDA caching allocator gives the next micro batch's position_ids the block the previous one
freed: same address, same shape, version 0. Two tensors over one numpy buffer reproduce that on CPU.
"""

from __future__ import annotations

import numpy as np
import torch

from coderl.training.in_verl import varlen_attn


def test_a_new_tensor_at_the_same_address_gets_its_own_boundaries():
    varlen_attn._cache.clear()
    buf = np.array([[0, 1, 2, 3, 0, 1, 0, 1, 2]], dtype=np.int64)
    first = torch.from_numpy(buf)
    cu, max_len = varlen_attn._cu_seqlens(first)
    assert cu.tolist() == [0, 4, 6, 9] and max_len == 4

    buf[0] = [0, 1, 0, 1, 2, 3, 4, 5, 6]  # the next micro batch, written where the last one lived
    second = torch.from_numpy(buf)
    assert (second.data_ptr(), second.shape, second._version) == (first.data_ptr(), first.shape, first._version)
    cu, max_len = varlen_attn._cu_seqlens(second)
    assert cu.tolist() == [0, 2, 9] and max_len == 7

    del first, second  # the tensors are gone: a third one at that address is a stranger too
    buf[0] = [0, 1, 2, 0, 1, 2, 0, 1, 2]
    cu, max_len = varlen_attn._cu_seqlens(torch.from_numpy(buf))
    assert cu.tolist() == [0, 3, 6, 9] and max_len == 3


def test_the_same_tensor_is_computed_once_and_again_after_an_in_place_change():
    varlen_attn._cache.clear()
    pos = torch.tensor([[0, 1, 2, 0, 1]])
    cu, _ = varlen_attn._cu_seqlens(pos)
    assert varlen_attn._cu_seqlens(pos)[0] is cu  # every layer of one forward reuses it
    pos[0, 3] = 3
    assert varlen_attn._cu_seqlens(pos)[0].tolist() == [0, 5]
