"""`coderl plan --rl` (`make plan RL=1`): the GRPO run's memory per GPU and time per step."""

from __future__ import annotations

import argparse
import json

MAKEFILE_DEFAULT_MODEL = "Qwen/Qwen2.5-Coder-7B-Instruct"


def run_rl_plan(args: argparse.Namespace) -> int:
    from .plan import ASSUMED_ANSWER_TOKENS, ASSUMED_GEN_TOK_S, format_rl_plan, make_rl_plan
    from .recipe import BEST_SFT, load_rl_recipe, resolve_start_model

    recipe = load_rl_recipe(args.rl_recipe)
    model = args.model
    if not model:
        # best_sft before any SFT evaluation: plan for the shape SFT starts from
        model = MAKEFILE_DEFAULT_MODEL if recipe["model"]["path"] == BEST_SFT else resolve_start_model(recipe)
    gen = args.gen_tok_s or ASSUMED_GEN_TOK_S
    ans = args.answer_tokens or ASSUMED_ANSWER_TOKENS
    plan = make_rl_plan(
        recipe, model, args.gpus, args.gpu_mem_gb, host_cores=args.host_cores, gen_tok_s=gen, answer_tokens=ans
    )
    print(json.dumps(plan.as_dict(), indent=2) if args.json else format_rl_plan(plan, gen, ans))
    return 0 if plan.fits else 1
