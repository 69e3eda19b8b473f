"""PNG plots (matplotlib, Agg): metrics per step per dataset, and the training curves."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .tables import METRICS, baseline_row, datasets_of
from .training_log import series

log = logging.getLogger(__name__)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on training boxes
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    tmp.replace(path)  # atomic: a reader never sees half a PNG
    return path


def plot_metrics_per_step(
    phases: dict[str, list[dict[str, Any]]], baseline_phase: str, path: str | Path
) -> Path | None:
    """One panel per dataset: accepted@1 (solid) and exec_success_rate (dashed) against step."""
    trained = {ph: rows for ph, rows in phases.items() if ph != baseline_phase and rows}
    base = baseline_row(phases.get(baseline_phase, []))
    dss = datasets_of([r for rows in trained.values() for r in rows] + ([base] if base else []))
    if not dss:
        return None
    plt = _pyplot()
    cols = min(3, len(dss))
    nrows = (len(dss) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 3.6 * nrows), squeeze=False)
    for ax, ds in zip(axes.flat, dss):
        for ph, rows in trained.items():
            by_step: dict[int, dict[str, Any]] = {}
            for r in rows:  # per step the most complete evaluation
                if ds in (r.get("scores") or {}) and (
                    int(r["step"]) not in by_step or int(r["tier"]) >= int(by_step[int(r["step"])]["tier"])
                ):
                    by_step[int(r["step"])] = r
            steps = sorted(by_step)
            for (metric, short), style in zip(METRICS, ("-o", "--s")):
                ys = [by_step[s]["scores"][ds].get(metric) for s in steps]
                pts = [(s, 100 * y) for s, y in zip(steps, ys) if isinstance(y, (int, float))]
                if pts:
                    ax.plot(*zip(*pts), style, label=f"{ph} {short}", markersize=4)
        if base is not None and ds in (base.get("scores") or {}):
            for (metric, short), color in zip(METRICS, ("tab:gray", "tab:brown")):
                y = base["scores"][ds].get(metric)
                if isinstance(y, (int, float)):
                    ax.axhline(100 * y, color=color, linestyle=":", label=f"{baseline_phase} {short}")
        ax.set_title(ds)
        ax.set_xlabel("step")
        ax.set_ylabel("%")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(dss) :]:
        ax.axis("off")
    fig.suptitle("Evaluation metrics per checkpoint", y=1.02)
    out = _save(fig, Path(path))
    plt.close(fig)
    return out


def plot_training_curves(log_rows: dict[int, dict[str, float]], path: str | Path) -> Path | None:
    """Train and validation loss (left) and learning rate (right) against step."""
    train, val, lr = series(log_rows, "train_loss"), series(log_rows, "val_loss"), series(log_rows, "lr")
    if not (train or val or lr):
        return None
    plt = _pyplot()
    fig, (ax_l, ax_r) = plt.subplots(1, 2, figsize=(11, 3.8))
    if train:
        ax_l.plot(*zip(*train), label="train loss", linewidth=1)
    if val:
        ax_l.plot(*zip(*val), "o-", label="val loss", markersize=4)
    ax_l.set_xlabel("step")
    ax_l.set_ylabel("loss")
    ax_l.grid(alpha=0.3)
    ax_l.legend()
    if lr:
        ax_r.plot(*zip(*lr), color="tab:green")
    else:
        ax_r.text(0.5, 0.5, "no learning rate in the log", ha="center", va="center", transform=ax_r.transAxes)
    ax_r.set_xlabel("step")
    ax_r.set_ylabel("learning rate")
    ax_r.grid(alpha=0.3)
    fig.suptitle("Training", y=1.02)
    out = _save(fig, Path(path))
    plt.close(fig)
    return out
