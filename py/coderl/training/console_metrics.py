"""Parse verl's console metric lines: `step:N - train/loss:1.23 - train/grad_norm:4.5 - ...`."""

from __future__ import annotations

import re

# The *last* "step:N - " on a line counts: tqdm's progress bar (stderr, carriage returns, no
# newline) often shares the line with the metrics print.
_STEP = re.compile(r"(?<![\w/])step:(\d+) - ")
# the metrics the launcher shows and the smoke checklist relies on
KEY_METRICS = ("train/loss", "train/grad_norm", "train/lr", "val/loss")
# verl's RL trainer prints some values as their numpy repr: np.float64(0.25), np.int64(3)
_NUMPY_REPR = re.compile(r"^np\.\w+\((.*)\)$")


def parse_step_line(line: str) -> tuple[int, dict[str, float]] | None:
    """(step, {metric: value}) for a verl console line, None for any other line."""
    matches = list(_STEP.finditer(line))
    if not matches:
        return None
    m = matches[-1]
    metrics: dict[str, float] = {}
    for part in line[m.end() :].rstrip("\r\n").split(" - "):
        key, sep, value = part.rpartition(":")
        if not sep or not key:
            continue
        try:
            metrics[key.strip()] = float(_NUMPY_REPR.sub(r"\1", value.strip()))
        except ValueError:
            continue
    return (int(m.group(1)), metrics) if metrics else None


def short(step: int, metrics: dict[str, float]) -> str:
    """One readable line with the key metrics only."""
    parts = [f"step {step}"]
    for k in KEY_METRICS:
        if k in metrics:
            parts.append(f"{k} {metrics[k]:.3e}" if k == "train/lr" else f"{k} {metrics[k]:.4f}")
    return "  ".join(parts)
