"""memory and disk plan for a training run.

`coderl plan`: will a full fine-tuning run fit the GPUs and the disk? (`make plan GPUS=N GPU_MEM_GB=M`).
"""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gpus", type=int, default=1, help="GPUs per node")
    p.add_argument("--nnodes", type=int, default=1)
    p.add_argument("--gpu-mem-gb", type=float, default=80.0, help="memory of one GPU in GB")
    p.add_argument(
        "--model",
        default=None,
        help="hub id of a known shape or a local folder with config.json (default: the recipe's model)",
    )
    p.add_argument(
        "--recipe", default="default", help="profile or YAML whose batch/length/offload/checkpoint settings to plan for"
    )
    p.add_argument("--micro-batch", type=int, default=None, help="override batch.micro_batch_size_per_gpu")
    p.add_argument("--max-length", type=int, default=None, help="override data.max_length")
    p.add_argument(
        "--mean-tokens",
        type=int,
        default=None,
        help="mean tokens per sample for the typical case (default 1343, the runbook data)",
    )
    p.add_argument("--cpu-offload", action="store_true", help="plan with training.cpu_offload (FSDP2 CPU offload)")
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="total training steps (default: from the recipe's data when present, else the runbook's 378)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--rl",
        action="store_true",
        help="plan the Phase 2 GRPO run (configs/rl.yaml) instead: actor, "
        "reference, vLLM memory per GPU, rollout vs reward time per step",
    )
    p.add_argument("--rl-recipe", default="default", help="with --rl: RL profile or YAML")
    p.add_argument("--gen-tok-s", type=float, default=None, help="with --rl: generated tokens/s per GPU (assumed 2500)")
    p.add_argument("--answer-tokens", type=int, default=None, help="with --rl: mean tokens per answer (assumed 600)")
    p.add_argument(
        "--host-cores", type=int, default=None, help="with --rl: CPU cores judging answers (default: this machine's)"
    )


def run(args: argparse.Namespace) -> int:
    if args.rl:
        from ..rl.plan import format_rl_plan, plan_rl_run

        plan, gen, ans = plan_rl_run(
            args.rl_recipe, args.model, args.gpus, args.gpu_mem_gb, args.host_cores, args.gen_tok_s, args.answer_tokens
        )
        print(json.dumps(plan.as_dict(), indent=2) if args.json else format_rl_plan(plan, gen, ans))
        return 0 if plan.fits else 1
    from ..training.plan import format_plan, plan_sft_run

    changes = {
        k: v
        for k, v in (
            ("micro_batch", args.micro_batch),
            ("max_length", args.max_length),
            ("mean_tokens", args.mean_tokens),
        )
        if v is not None
    }
    if args.cpu_offload:
        changes["cpu_offload"] = True
    plan, steps, steps_note = plan_sft_run(
        args.recipe, args.gpus, args.nnodes, args.gpu_mem_gb, args.model, changes, args.steps
    )
    if args.json:
        print(json.dumps({**plan.as_dict(), "total_steps": steps}, indent=2))
    else:
        print(format_plan(plan) + (f"\n{steps} steps{steps_note}" if steps_note else ""))
    return 0 if plan.memory.fits and (plan.disk is None or plan.disk.fits is not False) else 1
