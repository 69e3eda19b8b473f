"""Synthetic code SFT data for throughput benchmarks: real tokenizer, realistic lengths.

Throughput depends on how many tokens a step carries and how they are spread over samples
(padding waste, attention cost ~ sum of squared lengths), not on what the code means. So the
samples are chat conversations (user asks for a function, assistant answers with Python) whose
token lengths follow a clipped log-normal with the project's measured mean (~1,343 tokens per
sample, max_length 4096). Content is generated from code templates so the BPE sees code-like
text. Everything is seeded: the same (n, seed) gives the same parquet on any machine.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass
from pathlib import Path

from ...errors import DataError

log = logging.getLogger(__name__)

MEAN_TOKENS = 1343  # mean tokens/sample of the runbook's SFT workload (docs/throughput.md, "Before this work")
MAX_LENGTH = 4096
MIN_TOKENS = 96
SIGMA = 0.75  # log-normal spread: a long tail of 3-4k-token samples, most under 2k

_NAMES = [
    "data",
    "items",
    "result",
    "count",
    "total",
    "value",
    "index",
    "node",
    "graph",
    "queue",
    "stack",
    "left",
    "right",
    "mid",
    "best",
    "memo",
    "cache",
    "grid",
    "row",
    "col",
    "edges",
    "weights",
    "dist",
    "seen",
    "parent",
    "answer",
    "prefix",
    "suffix",
    "window",
    "limit",
    "target",
    "score",
    "pairs",
]
_FUNCS = [
    "solve",
    "compute",
    "merge",
    "search",
    "build",
    "update",
    "query",
    "parse",
    "count_ways",
    "shortest",
    "longest",
    "dfs",
    "bfs",
    "dp",
    "check",
    "normalize",
    "split_tokens",
    "find_cycle",
    "rotate",
    "encode",
]
_LINES = [
    "{a} = [0] * (n + 1)",
    "for {i} in range(len({a})):",
    "    if {a}[{i}] > {b}:",
    "        {b} = {a}[{i}]",
    "while {a} and {a}[-1] < {b}:",
    "    {a}.pop()",
    "{a}.append(({b}, {i}))",
    "return {a}",
    "{a} = {{}}",
    "{a}[{b}] = {a}.get({b}, 0) + 1",
    "{a} = sorted({b}, key=lambda x: (x[1], -x[0]))",
    "lo, hi = 0, len({a}) - 1",
    "    mid = (lo + hi) // 2",
    "import heapq",
    "heapq.heappush({a}, ({b}, {i}))",
    "{b}, {i} = heapq.heappop({a})",
    "if {i} in {a}:",
    "    continue",
    "{a} = min({a}, {b} + {i})",
    "# keep the invariant: {a} holds the best {b} seen so far",
    "{a} = [[0] * m for _ in range(n)]",
    "for {i} in range(1, n):",
    "    for j in range(1, m):",
    "        {a}[{i}][j] = max({a}[{i} - 1][j], {a}[{i}][j - 1]) + {b}[{i}][j]",
    "print(' '.join(map(str, {a})))",
    "n, m = map(int, input().split())",
    "{a} = list(map(int, input().split()))",
    "assert {f}({a}) == {b}, f'expected {{{b}}}'",
    "raise ValueError(f'{a} must be positive, got {{{a}}}')",
    "yield from {f}({a}, {i} + 1)",
]


@dataclass(frozen=True)
class SyntheticSpec:
    n: int = 512
    seed: int = 0
    mean_tokens: int = MEAN_TOKENS
    max_length: int = MAX_LENGTH


def target_lengths(spec: SyntheticSpec) -> list[int]:
    """Per-sample token targets: a log-normal clipped to [MIN_TOKENS, max_length - margin] with the given mean."""
    rng = random.Random(spec.seed)
    hi = spec.max_length - 32  # margin: the chat template adds a few tokens we do not plan line by line
    raw = [rng.lognormvariate(0.0, SIGMA) for _ in range(spec.n)]
    # scale so the clipped mean hits mean_tokens (a few fixed-point rounds converge: clipping is mild)
    scale = spec.mean_tokens / (sum(raw) / len(raw))
    for _ in range(20):
        clipped = [min(hi, max(MIN_TOKENS, r * scale)) for r in raw]
        m = sum(clipped) / len(clipped)
        if abs(m - spec.mean_tokens) < 0.5:
            break
        scale *= spec.mean_tokens / m
    return [int(round(c)) for c in clipped]


def _code_line(rng: random.Random) -> str:
    return rng.choice(_LINES).format(
        a=rng.choice(_NAMES), b=rng.choice(_NAMES), i=rng.choice("ijk"), f=rng.choice(_FUNCS)
    )


def _prompt(rng: random.Random) -> str:
    f, a, b = rng.choice(_FUNCS), rng.choice(_NAMES), rng.choice(_NAMES)
    return (
        f"Write a Python function `{f}({a}, {b})` that returns the {rng.choice(['smallest', 'largest', 'number of'])} "
        f"{b} reachable from {a} in at most {rng.randint(2, 10**5)} moves. Read the input from stdin "
        f"and print the answer. Constraints: 1 <= n <= {rng.randint(10, 2 * 10**5)}."
    )


def make_samples(tokenizer, spec: SyntheticSpec = SyntheticSpec()) -> tuple[list[dict], list[int]]:
    """(rows with a `messages` column, exact token length of each row under the chat template)."""
    rng = random.Random(spec.seed + 1)
    pool = [_code_line(rng) for _ in range(4000)]
    pool_tokens = [len(tokenizer.encode(line + "\n", add_special_tokens=False)) for line in pool]
    rows, lengths = [], []
    for target in target_lengths(spec):
        prompt = _prompt(rng)
        base = len(
            tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}, {"role": "assistant", "content": ""}],
                tokenize=True,
                return_dict=False,
            )
        )
        lines, have = [], base
        while have < target:
            k = rng.randrange(len(pool))
            lines.append(pool[k])
            have += pool_tokens[k]
        messages = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": "```python\n" + "\n".join(lines) + "\n```"},
        ]
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False)
        while len(ids) > spec.max_length - 8 and len(lines) > 1:  # BPE merges across lines can overshoot
            lines.pop()
            messages[1]["content"] = "```python\n" + "\n".join(lines) + "\n```"
            ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False)
        rows.append({"messages": messages})
        lengths.append(len(ids))
    return rows, lengths


def write_sft_parquet(path: str | Path, rows: list[dict]) -> Path:
    """Write rows as verl's SFT parquet (one `messages` column); atomic (temp + rename)."""
    import pandas as pd

    if not rows or "messages" not in rows[0]:
        raise DataError(f"{path}: no rows with a 'messages' column to write; build them with make_samples()")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    pd.DataFrame(rows).to_parquet(tmp, index=False)
    tmp.replace(out)
    return out


def length_stats(lengths: list[int]) -> dict:
    """mean, max, and E[s^2]/E[s] (the per-token attention length that MFU counting needs)."""
    if not lengths:
        raise DataError("no sample lengths to summarise")
    mean = sum(lengths) / len(lengths)
    sq = sum(s * s for s in lengths) / len(lengths)
    return {
        "n": len(lengths),
        "mean": mean,
        "max": max(lengths),
        "min": min(lengths),
        "p50": sorted(lengths)[len(lengths) // 2],
        "attn_len": sq / mean,
        "std": math.sqrt(max(0.0, sq - mean * mean)),
    }
