"""Every figure name a doc may use, and the documents that carry generated figures."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from . import (
    demo_figures,
    eval_figures,
    gpu_path_figures,
    load_flips_figures,
    plan_figures,
    reward_figures,
    rl_cpu_figures,
    sandbox_figures,
    train_figures,
)
from .raw import Raw

DOCS = (
    "README.md",
    "docs/performance.md",
    "docs/throughput.md",
    "docs/sandbox.md",
    "docs/training.md",
    "docs/hardware.md",
    "docs/rl.md",
    "docs/demo.md",
)

FIGURES: dict[str, Callable[[Raw], str]] = {
    **train_figures.TABLES,
    **train_figures.INLINE,
    **plan_figures.INLINE,
    **plan_figures.TABLES,
    **sandbox_figures.TABLES,
    **sandbox_figures.INLINE,
    **demo_figures.TABLES,
    **demo_figures.INLINE,
    **reward_figures.TABLES,
    **reward_figures.INLINE,
    **eval_figures.TABLES,
    **eval_figures.INLINE,
    **load_flips_figures.TABLES,
    **load_flips_figures.INLINE,
    **gpu_path_figures.TABLES,
    **gpu_path_figures.INLINE,
    **rl_cpu_figures.TABLES,
    **rl_cpu_figures.INLINE,
}


def render(name: str, raw: Raw) -> str:
    try:
        fig = FIGURES[name]
    except KeyError:
        raise ConfigError(
            f"unknown figure {name!r}; known: {', '.join(sorted(FIGURES))} "
            "(add a renderer in coderl/docs_figures/ or fix the marker)"
        ) from None
    return fig(raw)
