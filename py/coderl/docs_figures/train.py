"""Figures of `make bench-train` (docs/bench_train/*.json): one table row per (file, recipe).

A row names its raw file and recipe; every number in it is read or computed from that result,
the speed-up from the row it is compared with. Only labels (what the row is) are written here.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import fmt
from .raw import Raw

SHAPES = {"Qwen2.5-Coder-7B": "7.6B", "Qwen2.5-0.5B": "0.5B"}
D = "bench_train/"


@dataclass(frozen=True)
class Row:
    file: str  # under docs/bench_train/
    recipe: str
    label: str  # the recipe column as the reader sees it
    vs: tuple[str, str] | None = None  # (file, recipe) this row's speed-up is measured against
    ref: bool = False  # the 1.00x row of a comparison
    bold: bool = False  # the headline row
    cells: dict[str, str] = field(default_factory=dict)  # literal cells (notes, predictions)
    digits: int = 2  # of the speed-up


def card(report: dict[str, Any]) -> str:
    gpu = report["env"].get("gpu", report["device"])
    return gpu.removeprefix("NVIDIA ")


def machine(report: dict[str, Any]) -> str:
    return f"{report['n_gpus']}x {card(report)}"


def _peak(r: dict[str, Any]) -> str:
    return fmt.fixed(max(r["peak_mem_gib_per_gpu"]), 1)


def _mfu(r: dict[str, Any]) -> str:
    return f"{fmt.pct(r['mfu'])} / {fmt.pct(r['verl_mfu'])}"


def speedup(raw: Raw, row: Row) -> str:
    if row.ref:
        return "1.00x"
    if row.vs is None:
        return ""
    base = raw.result(D + row.vs[0], row.vs[1])
    mine = raw.result(D + row.file, row.recipe)["tokens_per_s_per_gpu"]
    return fmt.bold(fmt.times(mine / base["tokens_per_s_per_gpu"], row.digits))


# column key -> (header, cell(raw, row, report, result), bold on a headline row)
Cell = Callable[[Raw, Row, dict, dict], str]
COLUMNS: dict[str, tuple[str, Cell, bool]] = {
    "date": ("date", lambda raw, row, rep, r: rep["date"][:10], False),
    "machine": ("machine", lambda raw, row, rep, r: machine(rep), False),
    "shape": ("shape", lambda raw, row, rep, r: SHAPES.get(rep["shape"], rep["shape"]), False),
    "recipe": ("recipe", lambda raw, row, rep, r: row.label, True),
    "run": ("run", lambda raw, row, rep, r: row.label, True),
    "s": ("s/step", lambda raw, row, rep, r: fmt.fixed(r["s_per_step"]), True),
    "s3": ("s/step", lambda raw, row, rep, r: fmt.fixed(r["s_per_step"], 3), True),
    "tok": ("tokens/s/GPU", lambda raw, row, rep, r: fmt.thousands(r["tokens_per_s_per_gpu"]), True),
    "mfu": ("MFU ours / verl", lambda raw, row, rep, r: _mfu(r), True),
    "peak": ("peak GiB/GPU", lambda raw, row, rep, r: _peak(r), False),
    "speedup": ("speed-up", lambda raw, row, rep, r: speedup(raw, row), False),
    "loss8": ("loss step 8", lambda raw, row, rep, r: fmt.fixed(r["loss"]["8"], 4), False),
}


def cite(files: list[str]) -> str:
    """The line under a table naming its raw files, in order of first use."""
    return "\n\nRaw: " + ", ".join(f"docs/{f}" for f in dict.fromkeys(files)) + "."


def render(
    raw: Raw, columns: list[str], rows: list[Row], headers: dict[str, str] | None = None, cited: bool = True
) -> str:
    """A markdown table (and its raw files); `headers` renames columns, literal columns come from each row's cells."""
    head = [(headers or {}).get(c, COLUMNS[c][0] if c in COLUMNS else c) for c in columns]
    body = []
    for row in rows:
        rep = raw.file(D + row.file)
        r = raw.result(D + row.file, row.recipe)
        cells = []
        for c in columns:
            if c in row.cells:
                cells.append(row.cells[c])
            elif c in COLUMNS:
                _, cell, b = COLUMNS[c]
                cells.append(fmt.bold(cell(raw, row, rep, r), b and row.bold))
            else:
                cells.append("")
        body.append(cells)
    return fmt.table(head, body) + (cite([D + r.file for r in rows]) if cited else "")


def max_rel_diff(a: dict[str, float], b: dict[str, float], steps: list[str] | None = None) -> tuple[float, str]:
    """Largest |a - b| / |b| over the steps both have (or `steps`), and the step where it is."""
    keys = steps or sorted(set(a) & set(b), key=int)
    return max((abs(a[k] - b[k]) / abs(b[k]), k) for k in keys)


def losses(raw: Raw, file: str, recipe: str) -> dict[str, float]:
    return raw.result(D + file, recipe)["loss"]


def loss_columns(a: dict[str, float], b: dict[str, float], per_line: int = 5) -> str:
    """Per-step losses a/b, five steps a line (the code block under a comparison)."""
    keys = sorted(set(a) & set(b), key=int)
    cells = [f"{int(k):2d} {a[k]:7.4f}/{b[k]:.4f}" for k in keys]
    lines = ["   ".join(cells[i : i + per_line]) for i in range(0, len(cells), per_line)]
    return "```\n" + "\n".join(lines) + "\n```"


# `make train` acceptance run (tools/train_acceptance.py): its own record, steps of two attempts
ACCEPT = D + "2026-11-27_7.6b_4xH200_make_train_acceptance.json"


def accept_steps(raw: Raw) -> dict[int, dict[str, Any]]:
    """step -> metrics (with 't' seconds since the attempt's launch and 'attempt')."""
    out: dict[int, dict[str, Any]] = {}
    for attempt in ("attempt1", "attempt2"):
        for k, v in raw.key(ACCEPT, attempt, "steps").items():
            out[int(k)] = {**v, "attempt": attempt}
    return out


def accept_timing(raw: Raw) -> dict[str, float]:
    """Timed steps of both attempts together: s/step (median), tokens/s per GPU over exactly those steps."""
    steps, gpus = accept_steps(raw), raw.key(ACCEPT, "gpus")
    timed = [n for a in ("attempt1", "attempt2") for n in raw.key(ACCEPT, a, "timing", "timed_steps")]
    dt = {n: steps[n]["t"] - steps[n - 1]["t"] for n in timed}
    if any(steps[n - 1]["attempt"] != steps[n]["attempt"] for n in timed):
        raise ValueError("a timed step follows a step of another attempt")
    tokens = sum(steps[n]["train/global_tokens"] for n in timed)
    return {
        "s_per_step": statistics.median(dt.values()),
        "tokens": tokens,
        "tokens_per_s_per_gpu": tokens / sum(dt.values()) / gpus,
        "n_timed": len(timed),
        "mean_tokens_per_step": statistics.mean(s["train/global_tokens"] for s in steps.values()),
        "verl_max_allocated_gb": max(s["perf/max_memory_allocated_gb"] for s in steps.values()),
        "verl_max_reserved_gb": max(s["perf/max_memory_reserved_gb"] for s in steps.values()),
    }
