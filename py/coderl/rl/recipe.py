"""The Phase 2 recipe: configs/rl.yaml (our keys) -> validated dict -> verl 0.9.1 `main_ppo` overrides.

Like coderl.training.recipe for SFT: one readable file, one place (`rl_overrides`) that knows
verl's key names and which of its defaults must be overridden. `base:` chains work as for SFT.
The model `best_sft` means the checkpoint outputs/phase1_sft/best_checkpoint.json selected.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..paths import configs_dir, repo_root
from ..training.recipe import _model_path, hydra_value, resolve_path
from ..training.recipe_files import CHECKPOINT_SCHEMA, LOGGING_SCHEMA, check_sections, read_recipe, verl_overrides

NoneType = type(None)
_NUM = (int, float)
BEST_SFT = "best_sft"
ENGINES = ("vllm", "sglang", "coderl_hf")  # coderl_hf: transformers on CPU (coderl.rl.hf_rollout), tests only
REWARD_MODES = ("binary", "fraction", "pass_plus_fraction")
OVERLONG_ESTIMATOR = "coderl_grpo_overlong_masked"  # coderl.rl.overlong

SCHEMA: dict[str, dict[str, tuple[Any, Any]]] = {
    "model": {
        "path": (str, None),
        "best_sft_file": (str, None),
        "gradient_checkpointing": (bool, None),
        "attn_implementation": ((str, NoneType), ("sdpa", "flash_attention_2", "flash_attention_3", "eager")),
    },
    "data": {
        "train_files": ((str, list), None),
        "val_files": ((str, list, NoneType), None),
        "max_prompt_length": (int, (16, 1 << 20)),
        "max_response_length": (int, (1, 1 << 20)),
    },
    "rollout": {
        "engine": (str, ENGINES),
        "n": (int, (1, 1024)),
        "temperature": (_NUM, (0.0, 10.0)),
        "top_p": (_NUM, (0.0, 1.0)),
        "tensor_parallel": (int, (1, 64)),
        "gpu_memory_utilization": (_NUM, (0.05, 0.99)),
        "val_n": (int, (1, 1024)),
    },
    "algorithm": {
        "advantage": (str, ("grpo",)),
        "kl_coef": (_NUM, (0.0, 10.0)),
        "clip_low": (_NUM, (0.0, 1.0)),
        "clip_high": (_NUM, (0.0, 10.0)),
        "overlong_masking": (bool, None),
        "loss_agg": (str, ("token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm")),
        "entropy_coef": (_NUM, (0.0, 1.0)),
        "ppo_epochs": (int, (1, 100)),
    },
    "reward": {
        "mode": (str, REWARD_MODES),
        "sandbox": (str, None),
        "workers": ((int, NoneType), (1, 4096)),
    },
    "batch": {
        "prompts_per_step": (int, (1, 1 << 20)),
        "mini_batch_prompts": (int, (1, 1 << 20)),
        "micro_batch_size_per_gpu": (int, (1, 1 << 16)),
        "max_token_len_per_gpu": (int, (1, 1 << 24)),
    },
    "optim": {
        "lr": (_NUM, (0.0, 1.0)),
        "warmup_steps": (int, (0, 1 << 30)),
        "weight_decay": (_NUM, (0.0, 10.0)),
        "clip_grad": (_NUM, (0.0, 1e6)),
    },
    "training": {
        "epochs": (int, (1, 10000)),
        "max_steps": ((int, NoneType), (1, 1 << 30)),
        "seed": (int, (0, 2**31 - 1)),
        "param_offload": (bool, None),
        "optimizer_offload": (bool, None),
    },
    "checkpoint": CHECKPOINT_SCHEMA,
    "logging": LOGGING_SCHEMA,
}


def rl_profile_path(profile: str) -> Path:
    """configs/rl.yaml for 'default', else configs/rl_<profile>.yaml."""
    return configs_dir() / ("rl.yaml" if profile in ("", "default", "rl") else f"rl_{profile}.yaml")


def _source(p: str | Path) -> Path:
    s = str(p)
    path = Path(s)
    if s.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise ConfigError(f"RL recipe file not found: {path}")
        return path
    if not re.fullmatch(r"[A-Za-z0-9_.-]*", s) or not rl_profile_path(s).is_file():
        raise ConfigError(f"unknown RL profile {s!r}: {rl_profile_path(s)} does not exist")
    return rl_profile_path(s)


def load_rl_recipe(path_or_profile: str | Path | dict = "default") -> dict:
    """Read and validate an RL recipe (a profile name, a YAML path, or a dict that may use `base:`)."""
    source, raw = read_recipe(path_or_profile, _source, "<rl recipe dict>")
    recipe = validate_rl_recipe(raw, source)
    recipe["source"] = source
    return recipe


def validate_rl_recipe(raw: dict, source: str) -> dict:
    out = check_sections(raw, source, SCHEMA)
    b, r = out["batch"], out["rollout"]
    if b["prompts_per_step"] % b["mini_batch_prompts"]:
        raise ConfigError(
            f"{source}: batch.prompts_per_step={b['prompts_per_step']} must be a multiple of "
            f"batch.mini_batch_prompts={b['mini_batch_prompts']} (optimizer updates per step)"
        )
    if r["n"] < 2:
        raise ConfigError(f"{source}: rollout.n={r['n']}: GRPO needs at least 2 answers per prompt to compare")
    if out["algorithm"]["clip_high"] < out["algorithm"]["clip_low"]:
        raise ConfigError(f"{source}: algorithm.clip_high must be >= clip_low (clip-higher widens the upper bound)")
    out["verl_overrides"] = verl_overrides(raw, source, "trainer.val_before_train=false")
    return out


def rl_fingerprint(recipe: dict) -> str:
    keep = copy.deepcopy(
        {
            k: recipe[k]
            for k in ("model", "data", "rollout", "algorithm", "reward", "batch", "optim", "training", "verl_overrides")
        }
    )
    for k in ("path", "best_sft_file"):
        keep["model"].pop(k, None)
    keep["data"].pop("train_files", None)
    keep["data"].pop("val_files", None)
    keep["reward"].pop("sandbox", None)
    return hashlib.sha256(json.dumps(keep, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def resolve_start_model(recipe: dict) -> str:
    """The model the run starts from: `best_sft` -> the HF folder best_checkpoint.json selected."""
    path = recipe["model"]["path"]
    if path != BEST_SFT:
        return _model_path(path)
    from ..checkpoints import resolve_model_dir

    f = Path(resolve_path(recipe["model"]["best_sft_file"]))
    if not f.is_file():
        raise DataError(
            f"model.path is '{BEST_SFT}' but {f} does not exist: evaluate the SFT checkpoints first "
            f"(make eval-all), or set model.path to a checkpoint folder or a Hugging Face id"
        )
    try:
        best = json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{f}: not valid JSON ({e}); rewrite it with `coderl select --phase phase1_sft`") from None
    ckpt = best.get("checkpoint")
    if not ckpt:
        raise DataError(
            f"{f}: no checkpoint selected yet ({best.get('explanation', 'no explanation')}); evaluate the "
            f"SFT checkpoints (make eval-all) or set model.path explicitly"
        )
    p = Path(ckpt)
    hf_dir, _ = resolve_model_dir(p if p.is_absolute() else repo_root() / p)
    return str(hf_dir)


def world_plan(recipe: dict, gpus: int, nnodes: int = 1) -> dict[str, int]:
    """Answers per step and per GPU; refuse splits verl would refuse (or silently change)."""
    if gpus < 1 or nnodes < 1:
        raise ConfigError(f"GPUS={gpus} NNODES={nnodes}: both must be at least 1")
    b, r = recipe["batch"], recipe["rollout"]
    world = gpus * nnodes
    answers = b["prompts_per_step"] * r["n"]
    mini = b["mini_batch_prompts"] * r["n"]
    if mini % world:
        raise ConfigError(
            f"batch.mini_batch_prompts x rollout.n = {mini} answers per update do not divide by "
            f"{world} GPUs; choose a GPU count that divides {mini}"
        )
    if world % r["tensor_parallel"]:
        raise ConfigError(f"rollout.tensor_parallel={r['tensor_parallel']} does not divide {world} GPUs")
    return {
        "world_size": world,
        "answers_per_step": answers,
        "answers_per_update": mini,
        "answers_per_gpu": answers // world,
        "updates_per_step": b["prompts_per_step"] // b["mini_batch_prompts"],
        "rollout_replicas": world // r["tensor_parallel"],
    }


def save_contents(recipe: dict) -> list[str]:
    c = recipe["checkpoint"]
    return ["model", *(["optimizer"] if c["save_optimizer"] else []), "extra", *(["hf_model"] if c["save_hf"] else [])]


def _files(v):
    if v is None:
        return None
    return resolve_path(v) if isinstance(v, str) else [resolve_path(x) for x in v]


def rl_overrides(
    recipe: dict, gpus: int, nnodes: int = 1, device: str = "cuda", model_path: str | None = None
) -> list[str]:
    """Hydra overrides for `python -m verl.trainer.main_ppo` that realize the recipe.

    device="cpu" (tests, this machine) runs FSDP2 in fp32 with sdpa attention and the transformers
    rollout; Ray gets logical "GPU" slots (coderl.rl.launch).
    """
    if device not in ("cuda", "cpu"):
        raise ConfigError(f"device {device!r}: expected cuda or cpu")
    world_plan(recipe, gpus, nnodes)  # raises on a world the recipe cannot split
    m, d, r, a, rw, b, o, t, c, lg = (
        recipe[k]
        for k in (
            "model",
            "data",
            "rollout",
            "algorithm",
            "reward",
            "batch",
            "optim",
            "training",
            "checkpoint",
            "logging",
        )
    )
    engine, attn = r["engine"], m["attn_implementation"]
    if device == "cpu":
        engine, attn = "coderl_hf", "sdpa"
    elif engine == "coderl_hf":
        raise ConfigError(
            f"{recipe.get('source', 'recipe')}: rollout.engine=coderl_hf is the CPU test engine; use vllm on GPUs"
        )
    use_kl = a["kl_coef"] > 0
    backends = list(dict.fromkeys(["console", *lg["backends"]]))
    A, R = "actor_rollout_ref.actor", "actor_rollout_ref.rollout"
    kv: list[tuple[str, Any]] = [
        # the V1 trainer needs the transfer_queue package (not a verl dependency); the classic
        # RayPPOTrainer runs the same GRPO loop with what verl 0.9.1 installs
        ("trainer.use_v1", False),
        ("algorithm.adv_estimator", OVERLONG_ESTIMATOR if a["overlong_masking"] else "grpo"),
        ("algorithm.norm_adv_by_std_in_grpo", True),
        ("algorithm.use_kl_in_reward", False),
        ("data.train_files", _files(d["train_files"])),
        ("data.val_files", _files(d["val_files"] if d["val_files"] else d["train_files"])),
        ("data.prompt_key", "prompt"),
        ("data.max_prompt_length", d["max_prompt_length"]),
        ("data.max_response_length", d["max_response_length"]),
        ("data.train_batch_size", b["prompts_per_step"]),
        ("data.truncation", "error"),  # prepare-rl already dropped longer prompts: never cut one silently
        ("data.filter_overlong_prompts", False),
        ("data.shuffle", True),
        ("data.seed", t["seed"]),
        ("actor_rollout_ref.model.path", model_path or resolve_start_model(recipe)),
        ("actor_rollout_ref.model.enable_gradient_checkpointing", m["gradient_checkpointing"]),
        ("actor_rollout_ref.model.use_remove_padding", device == "cuda"),
        (f"{A}.strategy", "fsdp2"),
        (f"{A}.optim.lr", float(o["lr"])),
        (f"{A}.optim.lr_warmup_steps", o["warmup_steps"] or -1),
        (f"{A}.optim.weight_decay", float(o["weight_decay"])),
        (f"{A}.optim.clip_grad", float(o["clip_grad"])),
        (f"{A}.ppo_mini_batch_size", b["mini_batch_prompts"]),
        (f"{A}.ppo_micro_batch_size_per_gpu", b["micro_batch_size_per_gpu"]),
        (f"{A}.use_dynamic_bsz", device == "cuda"),
        (f"{A}.ppo_max_token_len_per_gpu", b["max_token_len_per_gpu"]),
        (f"{A}.ppo_epochs", a["ppo_epochs"]),
        (f"{A}.clip_ratio_low", float(a["clip_low"])),
        (f"{A}.clip_ratio_high", float(a["clip_high"])),
        (f"{A}.loss_agg_mode", a["loss_agg"]),
        (f"{A}.entropy_coeff", float(a["entropy_coef"])),
        (f"{A}.use_kl_loss", use_kl),
        (f"{A}.kl_loss_coef", float(a["kl_coef"])),
        (f"{A}.fsdp_config.param_offload", t["param_offload"]),
        (f"{A}.fsdp_config.optimizer_offload", t["optimizer_offload"]),
        (f"{A}.fsdp_config.use_torch_compile", device == "cuda"),
        (f"{A}.checkpoint.save_contents", save_contents(recipe)),
        (f"{R}.name", engine),
        (f"{R}.n", r["n"]),
        (f"{R}.temperature", float(r["temperature"])),
        (f"{R}.top_p", float(r["top_p"])),
        (f"{R}.tensor_model_parallel_size", r["tensor_parallel"]),
        (f"{R}.gpu_memory_utilization", float(r["gpu_memory_utilization"])),
        (f"{R}.log_prob_micro_batch_size_per_gpu", b["micro_batch_size_per_gpu"]),
        (f"{R}.val_kwargs.n", r["val_n"]),
        (f"{R}.val_kwargs.do_sample", r["val_n"] > 1),
        (f"{R}.val_kwargs.temperature", float(r["temperature"]) if r["val_n"] > 1 else 0.0),
        (f"{R}.checkpoint_engine.backend", "naive"),  # colocated: weights go straight from FSDP to the engine
        ("reward.custom_reward_function.path", "pkg://coderl.reward"),
        ("reward.custom_reward_function.name", "compute_score"),
        ("+reward.custom_reward_function.reward_kwargs.mode", rw["mode"]),
        ("+reward.custom_reward_function.reward_kwargs.sandbox", rw["sandbox"]),
        ("trainer.total_epochs", t["epochs"]),
        ("trainer.default_local_dir", resolve_path(c["dir"])),
        ("trainer.save_freq", c["save_freq"]),
        ("trainer.test_freq", c["test_freq"]),
        ("trainer.val_before_train", c["test_freq"] > 0),
        ("trainer.resume_mode", c["resume"]),
        ("trainer.max_actor_ckpt_to_keep", c["max_to_keep"]),
        ("trainer.project_name", lg["project"]),
        ("trainer.experiment_name", lg["experiment"]),
        ("trainer.logger", backends),
        ("trainer.n_gpus_per_node", gpus),
        ("trainer.nnodes", nnodes),
        ("trainer.device", device),
        ("trainer.critic_warmup", 0),
    ]
    if use_kl:
        kv.append((f"{A}.kl_loss_type", "low_var_kl"))
    if rw["workers"]:
        kv.append(("+reward.custom_reward_function.reward_kwargs.workers", rw["workers"]))
    if t["max_steps"] is not None:
        kv.append(("trainer.total_training_steps", t["max_steps"]))
    out = [f"{k}={hydra_value(v)}" for k, v in kv]
    if attn:
        out.append(f"+actor_rollout_ref.model.override_config.attn_implementation={attn}")
    if device == "cpu":
        out += [
            "data.dataloader_num_workers=0",
            f"{R}.agent.num_workers=1",
            "reward.num_workers=1",
            f"{A}.fsdp_config.model_dtype=fp32",
            # the CPU engine has no fp32/bf16 switch of its own: bf16 matmuls are ~10x slower on CPU
            f"+{A}.fsdp_config.mixed_precision={{param_dtype:fp32,reduce_dtype:fp32,buffer_dtype:fp32}}",
        ]
    out += recipe["verl_overrides"]
    return out


def describe_rl(recipe: dict, gpus: int, nnodes: int = 1, device: str = "cuda") -> str:
    wp = world_plan(recipe, gpus, nnodes)
    m, d, r, a, rw, b, o, c = (
        recipe[k] for k in ("model", "data", "rollout", "algorithm", "reward", "batch", "optim", "checkpoint")
    )
    return "\n".join(
        [
            f"recipe        {recipe['name']}  ({recipe.get('source', 'dict')}, fingerprint {rl_fingerprint(recipe)})",
            f"start model   {m['path']}" + (f" (from {m['best_sft_file']})" if m["path"] == BEST_SFT else ""),
            f"data          train {d['train_files']}  val {d['val_files']}  prompt <= {d['max_prompt_length']}, "
            f"answer <= {d['max_response_length']} tokens",
            f"devices       {gpus} {'GPU' if device == 'cuda' else 'CPU slot'}(s) x {nnodes} node(s); rollout "
            f"{'coderl_hf (CPU)' if device == 'cpu' else r['engine']} TP {r['tensor_parallel']} x {wp['rollout_replicas']} replica(s)",
            f"GRPO          {b['prompts_per_step']} prompts x {r['n']} answers = {wp['answers_per_step']} per step, "
            f"{wp['updates_per_step']} update(s) of {wp['answers_per_update']}; T={r['temperature']} top_p={r['top_p']}",
            f"loss          clip [{1 - a['clip_low']:.2f}, {1 + a['clip_high']:.2f}], {a['loss_agg']}, KL {a['kl_coef']}, "
            f"entropy {a['entropy_coef']}, overlong masking {a['overlong_masking']}",
            f"reward        coderl.reward mode {rw['mode']}, sandbox {rw['sandbox']}",
            f"optimizer     AdamW lr {o['lr']} warmup {o['warmup_steps']} steps, weight decay {o['weight_decay']}, clip {o['clip_grad']}",
            f"checkpoints   {c['dir']} every {c['save_freq']} steps (val every {c['test_freq']}), resume {c['resume']}, "
            f"contents {'+'.join(save_contents(recipe))}",
        ]
    )
