"""generate completions for problems with a backend.

coderl generate: answers for a problems file (or an eval dataset) with any backend, into JSONL.
"""

from __future__ import annotations

import argparse
import json

from ..generation.backends import KINDS


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--problems", help="a problems JSONL file (data/raw/<dataset>_raw.jsonl format)")
    src.add_argument("--dataset", help="an eval dataset name (data/raw + data/manifests, verified)")
    p.add_argument("--backend", choices=KINDS, default="vllm")
    p.add_argument("--checkpoint", help="a checkpoint folder (global_step_N/ or its huggingface/)")
    p.add_argument("--model", help="a hub model id or model folder; with --vllm-url, the served model name")
    p.add_argument("--vllm-url", help="an already running OpenAI-compatible server (backend openai)")
    p.add_argument("--python", help="python executable with vLLM installed (backend vllm; default .venv-vllm)")
    p.add_argument("--port", type=int, help="port for the started server (default serving.port)")
    p.add_argument("--config", help="eval config (default configs/eval.yaml)")
    p.add_argument("--limit", type=int, help="only the first N problems")
    p.add_argument("--out", required=True, help="output JSONL; an existing file is resumed, not overwritten")


def run(args: argparse.Namespace) -> int:
    from ..config import load_eval_config
    from ..data.problem import load_problems
    from ..generation.backends import make_backend
    from ..generation.runner import generate_to_file

    cfg = load_eval_config(args.config)
    if args.problems:
        problems = load_problems(args.problems)
    else:
        from ..data.registry import load_eval_problems

        problems = load_eval_problems(args.dataset)
    problems = problems[: args.limit] if args.limit else problems
    backend_kind = "openai" if args.vllm_url and args.backend == "vllm" else args.backend
    opts = {}
    if backend_kind == "vllm":
        opts = {k: v for k, v in {"python": args.python, "port": args.port}.items() if v}
    with make_backend(backend_kind, cfg=cfg, model=args.checkpoint or args.model, url=args.vllm_url, **opts) as b:
        counts = generate_to_file(b, problems, cfg, args.out)
    print(json.dumps({"out": args.out, **counts}))
    return 0 if counts["failed"] == 0 else 1
