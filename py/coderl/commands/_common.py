"""Helpers several commands share: option defaults read from the recipe, ARGS splitting, exit codes."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from ..errors import DataError
from ..paths import RAW_DIR


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


def dry_run_recipe(load_recipe: Callable[[str], dict], args) -> tuple[dict, str]:
    """train/rl --dry-run: (the recipe as the run would use it, the device): --run-dir applied, auto -> cuda."""
    recipe = load_recipe(args.recipe)
    if args.run_dir:
        recipe["checkpoint"]["dir"] = args.run_dir
    return recipe, "cuda" if args.device == "auto" else args.device


def exit_status(summary) -> int:
    """A launch's exit code: 0 finished, 130 interrupted (as Ctrl-C), 1 otherwise."""
    return {"finished": 0, "interrupted": 130}.get(summary.status, 1)


def add_decontamination_arguments(p) -> None:
    """The options prepare-sft and prepare-rl share: which eval sets a training row is checked against
    (n-gram overlap), where their problems are, and the sandbox that validates references."""
    p.add_argument("--sandbox", default="local", help="'local' or a SandboxFusion URL (for validation)")
    p.add_argument("--eval-sets", default=None, help="comma-separated eval sets (default: every non-stand-in set)")
    p.add_argument("--ngram", type=int, default=13)
    p.add_argument("--min-overlap", type=float, default=0.5, help="share of an eval prompt's n-grams that flags a row")
    p.add_argument("--raw-dir", default=RAW_DIR)
    p.add_argument("--manifests-dir", default="data/manifests")


def decontamination_options(args) -> dict[str, Any]:
    """add_decontamination_arguments' options as prepare_sft's / prepare_rl's keyword arguments."""
    return {
        "sandbox": args.sandbox,
        "eval_sets": [s for s in args.eval_sets.split(",") if s] if args.eval_sets else None,
        "ngram": args.ngram,
        "min_overlap": args.min_overlap,
        "raw_dir": args.raw_dir,
        "manifests_dir": args.manifests_dir,
    }


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
