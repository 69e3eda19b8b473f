"""The options `coderl eval` and `coderl eval-all` share (backend, sandbox, data folders, outputs)."""

from __future__ import annotations

import argparse

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
