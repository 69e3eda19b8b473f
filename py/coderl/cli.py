"""`coderl <command>`: the one entry point the Makefile calls.

Each command lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`.
Only the chosen command's module is imported, so `coderl plan` does not pay for torch or verl.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .errors import CoderlError

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "env-check": ("coderl.envcheck", "check Python, torch/CUDA, verl, vLLM, sandbox, disk and data"),
    "data": ("coderl.data.cli", "build data/raw/<dataset>_raw.jsonl for every reachable eval dataset"),
    "validate-data": ("coderl.data.validate_cli", "judge every dataset's reference solution; report broken problems"),
    "prepare-sft": ("coderl.data.sft_cli", "check and split SFT data into verl parquet files"),
    "prepare-rl": ("coderl.rl.prepare_cli", "check and split problems with tests into verl RL parquet files"),
    "sandbox": ("coderl.sandbox.cli", "run one program in the sandbox, or report the isolation level"),
    "judge": ("coderl.sandbox.judge_cli", "judge completions against problems' tests"),
    "serve": ("coderl.generation.serve_cli", "start vLLM's OpenAI server for a checkpoint and keep it up"),
    "generate": ("coderl.generation.cli", "generate completions for problems with a backend"),
    "eval": ("coderl.evaluation.cli", "evaluate one checkpoint at a tier"),
    "eval-all": ("coderl.evaluation.all_cli", "evaluate every checkpoint under a root"),
    "select": ("coderl.evaluation.select_cli", "write best_checkpoint.json from the history"),
    "report": ("coderl.report.cli", "comparison tables and plots from the eval histories"),
    "train": ("coderl.training.cli", "launch verl SFT (torchrun) with the recipe in configs/sft.yaml"),
    "rl": ("coderl.rl.cli", "launch verl GRPO (Phase 2) with the recipe in configs/rl.yaml"),
    "smoke": ("coderl.training.smoke_cli", "10-step training run plus the runbook checklist"),
    "plan": ("coderl.training.plan_cli", "memory and disk plan for a training run"),
    "prune-ckpt": ("coderl.training.prune_cli", "delete optimizer state of checkpoints not needed to resume"),
    "make-tiny-model": ("coderl.models.cli", "write a tiny random-init Qwen2 model with the real Qwen tokenizer"),
    "demo": ("coderl.demo", "the whole pipeline at toy scale on CPU"),
}


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: coderl <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "coderl <command> --help for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name = argv[0]
    if name not in COMMANDS:
        print(f"coderl: unknown command '{name}'\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, help_ = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            print(f"coderl: command '{name}' is not available in this build ({module_name} missing)", file=sys.stderr)
            return 2
        raise
    parser = argparse.ArgumentParser(prog=f"coderl {name}", description=help_)
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except CoderlError as e:
        print(f"coderl {name}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"coderl {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
