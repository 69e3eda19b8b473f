"""Where a training run is: step N/total, seconds per step, tokens/s per GPU and the time left.

Fed with verl's step lines as the launcher reads them (their arrival time is the clock: verl
prints no step time of its own). The rate is over the last few steps, so a slow first step
(compilation, warm-up) or a checkpoint save fades out of it; until two step lines have arrived
there is no rate, and the line says so instead of guessing.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW = 10  # step intervals the rate is averaged over


def format_duration(seconds: float) -> str:
    """H:MM:SS (hours grow past 24: a plain count reads better in a log than days)."""
    s = max(0, int(round(seconds)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class Progress:
    total_steps: int
    world_size: int
    clock: Callable[[], float] = time.monotonic
    _seen: deque = field(default_factory=lambda: deque(maxlen=WINDOW + 1))  # (time, step, tokens)

    def update(self, step: int, metrics: dict[str, float]) -> str | None:
        """The progress line for a train-step line (None for lines without train metrics, e.g. val/loss)."""
        if "train/loss" not in metrics and "train/global_tokens" not in metrics:
            return None
        now = self.clock()
        if self._seen and step <= self._seen[-1][1]:
            self._seen.clear()  # a step repeated (a restarted worker): start the rate over
        self._seen.append((now, step, float(metrics.get("train/global_tokens", 0.0))))
        pct = 100.0 * step / self.total_steps if self.total_steps else 0.0
        head = f"[progress] step {step}/{self.total_steps} ({pct:.0f}%)"
        if len(self._seen) < 2:
            return f"{head}  - s/step  - tokens/s/gpu  ETA -"
        (t0, s0, _), (t1, s1, _) = self._seen[0], self._seen[-1]
        sec_per_step = (t1 - t0) / (s1 - s0)
        tokens = sum(tok for _, _, tok in list(self._seen)[1:])  # tokens of the steps inside the window
        tok_per_gpu = tokens / max(t1 - t0, 1e-9) / max(self.world_size, 1)
        left = max(self.total_steps - step, 0) * sec_per_step
        return f"{head}  {sec_per_step:.2f} s/step  {tok_per_gpu:,.0f} tokens/s/gpu  ETA {format_duration(left)}"
