"""Exact and near duplicates among SFT rows (MinHash + LSH, verified by exact Jaccard).

Near duplicates are judged on word 5-gram shingles of the whole conversation, so a re-worded
copy of the same problem and solution is caught while two different solutions are not.
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict

import numpy as np

_WORD = re.compile(r"\w+")
_PRIME = np.uint64((1 << 31) - 1)
N_PERM, BANDS = 64, 16  # 16 bands x 4 rows: candidate pairs from Jaccard ~0.5 up


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def shingles(text: str, k: int = 5) -> set[str]:
    w = words(text)
    if len(w) < k:
        return {" ".join(w)} if w else set()
    return {" ".join(w[i : i + k]) for i in range(len(w) - k + 1)}


def _signature(sh: set[str], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x = np.fromiter((zlib.crc32(s.encode("utf-8")) for s in sorted(sh)), dtype=np.uint64, count=len(sh))
    return ((np.outer(x, a) + b) % _PRIME).min(axis=0)


def exact_duplicates(keys: list[str]) -> dict[int, int]:
    """index -> index of the first row with the same key."""
    first: dict[str, int] = {}
    out = {}
    for i, k in enumerate(keys):
        if k in first:
            out[i] = first[k]
        else:
            first[k] = i
    return out


def near_duplicates(texts: list[str], threshold: float, skip: set[int] = frozenset()) -> dict[int, tuple[int, float]]:
    """index -> (index of an earlier near-identical row, Jaccard similarity), for rows not in `skip`."""
    rng = np.random.default_rng(0)  # fixed: results must not vary between runs
    a = rng.integers(1, int(_PRIME), N_PERM, dtype=np.uint64)
    b = rng.integers(0, int(_PRIME), N_PERM, dtype=np.uint64)
    sh = [shingles(t) for t in texts]
    buckets: dict[tuple, list[int]] = defaultdict(list)
    rows_per_band = N_PERM // BANDS
    for i, s in enumerate(sh):
        if i in skip or not s:
            continue
        sig = _signature(s, a, b)
        for band in range(BANDS):
            buckets[(band, *sig[band * rows_per_band : (band + 1) * rows_per_band].tolist())].append(i)
    out: dict[int, tuple[int, float]] = {}
    for members in buckets.values():
        for pos, j in enumerate(members):
            if j in out:
                continue
            for i in members[:pos]:
                if i in out:
                    continue
                jac = len(sh[i] & sh[j]) / len(sh[i] | sh[j])
                if jac >= threshold:
                    out[j] = (i, jac)
                    break
    return out
