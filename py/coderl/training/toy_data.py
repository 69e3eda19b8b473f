"""A small, learnable SFT parquet in verl's format (a `messages` column) for smoke runs on CPU.

Each sample asks for a tiny Python function and answers with it, so even a random-init model's
loss falls within a few steps.
"""

from __future__ import annotations

import random
from pathlib import Path

_TASKS = [
    ("returns the sum of {a} and {b}", "def solve():\n    return {a} + {b}\n"),
    ("returns {a} times {b}", "def solve():\n    return {a} * {b}\n"),
    ("returns the larger of {a} and {b}", "def solve():\n    return max({a}, {b})\n"),
    ("returns a list of the numbers from {a} to {b}", "def solve():\n    return list(range({a}, {b} + 1))\n"),
]


def toy_messages(n: int, seed: int = 0) -> list[list[dict[str, str]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        q, code = rng.choice(_TASKS)
        a, b = rng.randint(1, 50), rng.randint(51, 99)
        out.append(
            [
                {"role": "user", "content": f"Write a Python function `solve()` that {q.format(a=a, b=b)}."},
                {"role": "assistant", "content": f"```python\n{code.format(a=a, b=b)}```"},
            ]
        )
    return out


def write_toy_sft(out_dir: str | Path, n_train: int = 48, n_val: int = 8, seed: int = 0) -> tuple[Path, Path]:
    """Write sft_train.parquet and sft_val.parquet under out_dir; return their paths."""
    import pandas as pd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = toy_messages(n_train + n_val, seed)
    train, val = out / "sft_train.parquet", out / "sft_val.parquet"
    pd.DataFrame({"messages": rows[:n_train]}).to_parquet(train, index=False)
    pd.DataFrame({"messages": rows[n_train:]}).to_parquet(val, index=False)
    return train, val
