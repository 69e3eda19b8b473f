"""Helpers several commands share: option defaults read from the recipe, ARGS splitting, exit codes."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from ..errors import DataError


def recipe_ckpt_root() -> str:
    """The SFT recipe's checkpoint.dir (configs/sft.yaml), resolved against the repository: --ckpt-root's default."""
    from ..training.recipe import load_recipe, resolve_path

    return resolve_path(load_recipe("default")["checkpoint"]["dir"])


def recipe_model() -> str:
    """The SFT recipe's model.path (configs/sft.yaml): the model a run starts from, the Phase 0 baseline."""
    from ..training.recipe import load_recipe

    return load_recipe("default")["model"]["path"]


def split_overrides(overrides: list[str]) -> list[str]:
    """The extra hydra overrides, one each: ARGS may arrive as one quoted string."""
    extra: list[str] = []
    for o in overrides:
        extra += shlex.split(o)
    return extra


def exit_status(summary) -> int:
    """A launch's exit code: 0 finished, 130 interrupted (as Ctrl-C), 1 otherwise."""
    return {"finished": 0, "interrupted": 130}.get(summary.status, 1)


def eval_set_list(arg: str | None) -> list[str] | None:
    """--eval-sets a,b -> [a, b]; not given -> None (every non-stand-in eval set)."""
    return [s for s in arg.split(",") if s] if arg else None


def report_outcome(prepare: Callable[[], Any], out_dir: str, report_file: str) -> int:
    """Run a prepare-* step and print its report: exit 0 with the files written, 1 if the data was refused."""
    try:
        report = prepare()
    except DataError as e:
        if getattr(e, "report", None) is None:
            raise
        print(e)
        print(f"report: {out_dir}/{report_file}; no train/val files were written")
        return 1
    print(report.summary())
    print(f"wrote {', '.join(f'{out_dir}/{f}' for f in report.files)}")
    return 0
