"""Read a training log into {step: {metric: value}}: verl console lines or JSONL, either.

Accepted forms, one record per line (mixed files are fine; other lines are ignored):
- verl console: `step:12 - train/loss:0.53 - train/lr:1e-05 - val/loss:0.61`
- verl's `file` logger: `{"step": 12, "data": {"train/loss": 0.53}}`
- flat JSONL: `{"step": 12, "train/loss": 0.53, "val/loss": 0.61, "train/lr": 1e-05}`
Several lines for one step merge (verl logs validation on its own line); a later value wins.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from ..errors import DataError

log = logging.getLogger(__name__)

_CONSOLE_STEP = re.compile(r"(?:^|\s|\()step:(\d+)\b")
_CONSOLE_PAIR = re.compile(r"([A-Za-z_][\w/.\-@]*):\s*(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)\b")

# Plotted series -> the keys that carry them, first found wins.
SERIES = {
    "train_loss": ("train/loss", "loss", "train_loss"),
    "val_loss": ("val/loss", "val-core/loss", "val_loss", "validation/loss"),
    "lr": ("train/lr", "lr", "optim/lr", "learning_rate"),
}


def _merge(out: dict[int, dict[str, float]], step: int, values: dict) -> None:
    row = out.setdefault(step, {})
    for k, v in values.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step":
            row[k] = float(v)


def parse_training_log(path: str | Path) -> dict[int, dict[str, float]]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"training log not found: {path}; pass --train-log <run dir's jsonl or console log>")
    out: dict[int, dict[str, float]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line of a live log
            if isinstance(obj, dict) and isinstance(obj.get("step"), int):
                _merge(out, obj["step"], obj.get("data") if isinstance(obj.get("data"), dict) else obj)
            continue
        m = _CONSOLE_STEP.search(line)
        if m:
            rest = line[m.end() :]
            _merge(out, int(m.group(1)), {k: float(v) for k, v in _CONSOLE_PAIR.findall(rest)})
    if not out:
        log.warning("%s: no step records found (expected verl console lines or JSONL with 'step')", path)
    return dict(sorted(out.items()))


def series(log_rows: dict[int, dict[str, float]], name: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one plotted series (train_loss, val_loss, lr)."""
    keys = SERIES[name]
    pts = []
    for step, row in log_rows.items():
        for k in keys:
            if k in row:
                pts.append((step, row[k]))
                break
    return pts
