"""coderl eval: evaluate one checkpoint (or a hub model) at a tier into outputs/<phase>/step_<N>/."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from ..paths import RAW_DIR

BACKENDS = ("vllm", "openai", "hf", "oracle")


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by eval and eval-all."""
    p.add_argument("--phase", default="phase1_sft", help="output folder name under --out-root (default: phase1_sft)")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="generation backend (default: openai with --vllm-url, else vllm started for the checkpoint)",
    )
    p.add_argument("--vllm-url", default=None, help="an already running OpenAI-compatible server")
    p.add_argument(
        "--served-model-name",
        default=None,
        help="with --vllm-url: the model id the server must serve (default: --model's hub id, else the one served)",
    )
    p.add_argument(
        "--engine",
        choices=("vllm", "transformers"),
        default="vllm",
        help="server the vllm backend starts: vllm, or `transformers serve` on CPU (no vLLM; slow, tiny models)",
    )
    p.add_argument("--sandbox", default="local", help="'local' (embedded) or a SandboxFusion URL")
    p.add_argument("--eval-config", default=None, help="eval config (default: configs/eval.yaml)")
    p.add_argument(
        "--datasets", default=None, help="comma-separated datasets instead of the tier's (e.g. for the demo)"
    )
    p.add_argument("--raw-dir", default=RAW_DIR)
    p.add_argument("--manifests-dir", default="data/manifests")
    p.add_argument("--out-root", default="outputs")
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="only the first N problems of each dataset (a quick check: its own fingerprint and "
        "step_<N>_limit<K>/ folder, never selected as the best checkpoint)",
    )
    p.add_argument(
        "--device", default="auto", help="--backend hf: auto (a GPU when torch sees one, else CPU), cpu, cuda or cuda:N"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="--backend hf: greedy prompts per generate() call (default 1: each answer as if alone)",
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a global_step_N folder (with huggingface/) or a Hugging Face model folder")
    src.add_argument("--model", help="a hub id or model folder (Phase 0 baseline)")
    p.add_argument(
        "--tier", type=int, default=None, help="1, 2 or 3 (configs/datasets.yaml); required without --datasets"
    )
    p.add_argument("--step", type=int, default=None, help="step number (default: from the global_step_N name)")
    add_common_arguments(p)


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


def run(args: argparse.Namespace) -> int:
    from ..checkpoints import resolve_model_dir
    from ..config import load_eval_config
    from .runner import EvalRequest, run_evaluation

    cfg = load_eval_config(args.eval_config)
    kind = backend_kind(args)
    if args.checkpoint:
        model_dir, step = resolve_model_dir(args.checkpoint)
        model, checkpoint = str(model_dir), str(Path(args.checkpoint).resolve())
    else:
        model, checkpoint, step = args.model, args.model, None
    step = args.step if args.step is not None else step
    if step is None:
        raise ConfigError(f"cannot tell the step of {checkpoint}; pass --step N")
    tier, datasets = datasets_for(args, cfg, args.tier)
    req = EvalRequest(
        model=model,
        checkpoint=checkpoint,
        step=step,
        phase=args.phase,
        tier=tier,
        datasets=datasets,
        out_root=Path(args.out_root),
        backend=kind,
        vllm_url=args.vllm_url,
        sandbox=args.sandbox,
        raw_dir=args.raw_dir,
        manifests_dir=args.manifests_dir,
        limit=args.limit,
        served_model=args.served_model_name or (args.model if args.model else None),
        backend_opts=backend_opts(args, kind),
    )
    row = run_evaluation(req, cfg)
    print_row(row, Path(args.out_root))
    return 0


def print_row(row: dict, out_root: Path) -> None:
    print(f"{row['phase']} step {row['step']} tier {row['tier']} (fingerprint {row['eval_fingerprint']}):")
    for ds, s in row["scores"].items():
        acc, ex = s.get("accepted_at_1"), s.get("exec_success_rate")
        fmt = lambda x: "n/a" if x is None else f"{100 * x:5.1f}%"  # noqa: E731
        print(f"  {ds:<24} accepted@1 {fmt(acc)}  exec_success {fmt(ex)}  n={s.get('n')}")
    from .outputs import StepOutputs

    print(f"  outputs: {StepOutputs.for_step(out_root, row['phase'], row['step'], row.get('limit')).dir}")
    if row.get("limit"):
        print(f"  (a --limit {row['limit']} quick check: kept apart from full evaluations, never selected)")
