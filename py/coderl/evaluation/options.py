"""What eval's and eval-all's options mean: the backend to use, its options, the datasets of a tier.

Shared by `coderl eval` and `coderl eval-all` (coderl.commands) and by coderl.evaluation.all_checkpoints.
"""

from __future__ import annotations

import argparse

from ..errors import ConfigError


def backend_kind(args: argparse.Namespace) -> str:
    if args.backend:
        if args.backend == "openai" and not args.vllm_url:
            raise ConfigError("--backend openai needs --vllm-url http://host:port")
        return args.backend
    return "openai" if args.vllm_url else "vllm"


def backend_opts(args: argparse.Namespace, kind: str) -> dict:
    """Options for the backend: the hf backend's device and batch size; the server engine when coderl starts one."""
    if kind == "hf":
        return {"device": getattr(args, "device", "auto"), "batch_size": getattr(args, "batch_size", 1)}
    if getattr(args, "engine", "vllm") != "vllm":
        if kind != "vllm":
            raise ConfigError(
                f"--engine {args.engine} chooses the server the vllm backend starts; "
                f"the {kind} backend starts none: drop --engine or use --backend vllm"
            )
        return {"engine": args.engine}
    return {}


def datasets_for(args: argparse.Namespace, cfg, tier: int | None) -> tuple[int, list[str]]:
    """(tier recorded in the history, datasets). A custom --datasets list without --tier is tier 0."""
    if args.datasets:
        names = [d.strip() for d in args.datasets.split(",") if d.strip()]
        unknown = [d for d in names if d not in cfg.datasets]
        if unknown:
            raise ConfigError(
                f"--datasets: unknown dataset '{unknown[0]}'; defined in {cfg.path.parent}/datasets.yaml: "
                f"{', '.join(cfg.datasets)}"
            )
        return (tier if tier is not None else 0), names
    if tier is None:
        raise ConfigError("give --tier 1|2|3 (or --datasets a,b)")
    return tier, cfg.tier_datasets(tier)


def eval_request(args: argparse.Namespace, kind: str, **what):
    """The EvalRequest of one evaluation: `what` names the model, checkpoint, step, tier and datasets
    (and the served model, for eval); everything else comes from the command's options."""
    from pathlib import Path

    from .runner import EvalRequest

    return EvalRequest(
        phase=args.phase,
        out_root=Path(args.out_root),
        backend=kind,
        vllm_url=args.vllm_url,
        sandbox=args.sandbox,
        raw_dir=args.raw_dir,
        manifests_dir=args.manifests_dir,
        limit=args.limit,
        backend_opts=backend_opts(args, kind),
        **what,
    )
