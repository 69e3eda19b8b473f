"""start vLLM's OpenAI server for a checkpoint and keep it up.

coderl serve: start vLLM's OpenAI server for a checkpoint (or hub model) and keep it up until Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import time


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a checkpoint folder (global_step_N/ or its huggingface/)")
    src.add_argument("--model", help="a hub model id (the Phase 0 baseline) or a model folder")
    p.add_argument("--python", help="python executable with vLLM (default: $CODERL_VLLM_PYTHON, .venv-vllm, this one)")
    p.add_argument("--port", type=int, help="port (default serving.port in the eval config)")
    p.add_argument("--served-model-name", help="the model id clients send (default: the --checkpoint/--model value)")
    p.add_argument(
        "--engine",
        choices=("vllm", "transformers"),
        default="vllm",
        help="transformers = `transformers serve` on CPU (no vLLM needed; slow, for tiny models)",
    )
    p.add_argument("--log", help="server log file (default: a temp file, printed)")
    p.add_argument("--config", help="eval config (default configs/eval.yaml)")


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from ..config import load_eval_config
    from ..generation.backends import ServedBackend

    cfg = load_eval_config(args.config)
    backend = ServedBackend(
        args.checkpoint or args.model,
        cfg,
        python=args.python,
        port=args.port,
        served_model_name=args.served_model_name,
        engine=args.engine,
        log_path=args.log,
    )
    # SIGTERM (kill, tmux kill-pane) takes the same path as Ctrl-C: the server group is stopped
    signal.signal(signal.SIGTERM, _interrupt)
    with backend:
        print(
            f"serving {backend.served_name} at {backend.url}/v1 (log: {backend.server.log_path}); Ctrl-C stops it",
            flush=True,
        )
        try:
            while backend.server.alive():
                time.sleep(1.0)
        except KeyboardInterrupt:
            print("stopping the server", flush=True)
            return 0
    print(f"the server exited on its own; last lines of {backend.server.log_path}:\n{backend.server.log_tail()}")
    return 1
