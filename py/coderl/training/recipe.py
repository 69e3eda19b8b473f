"""Training recipes: our readable YAML (configs/sft*.yaml) -> validated dict -> verl 0.9.1 hydra overrides.

A recipe names things the way the runbook does (global batch, warmup ratio, save every N steps);
`recipe_to_overrides` is the one place that knows verl's key names and which of verl's own
defaults must be overridden (lr 1e-3 constant, FSDP1, max_length 1024, wandb logger...).

Profiles: `load_recipe("runbook")` reads configs/sft_runbook.yaml, `load_recipe("default")`
configs/sft.yaml, anything ending in .yaml/.yml (or an existing file) is read as a path. A recipe
(file or dict) may start from another with `base: <profile or path>` and override some keys.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..paths import configs_dir, repo_root
from .recipe_files import CHECKPOINT_SCHEMA, LOGGING_SCHEMA, check_sections, read_recipe, verl_overrides

NoneType = type(None)
_NUM = (int, float)

# section -> key -> (allowed types, range (lo, hi) | choices | None)
SCHEMA: dict[str, dict[str, tuple[Any, Any]]] = {
    "model": {
        "path": (str, None),
        "gradient_checkpointing": (bool, None),
        "attn_implementation": (
            (str, NoneType),
            ("sdpa", "coderl_varlen", "flash_attention_2", "flash_attention_3", "eager", "flex_attention"),
        ),
    },
    "data": {
        "train_files": ((str, list), None),
        "val_files": ((str, list, NoneType), None),
        "messages_key": (str, None),
        "max_length": (int, (16, 1 << 20)),
        "truncation": (str, ("error", "left", "right")),
        # tokenize once ahead of training (coderl.training.in_verl.pretokenized) instead of per sample per step
        "pretokenize": (bool, None),
    },
    "batch": {
        "global_batch_size": (int, (1, 1 << 20)),
        "micro_batch_size_per_gpu": (int, (1, 1 << 16)),
        "remove_padding": (bool, None),
        "dynamic_batch": (bool, None),
        "max_token_len_per_gpu": ((int, NoneType), (1, 1 << 24)),
        # each step's samples spread over the GPUs by tokens (coderl.training.in_verl.token_balanced_dp)
        "balance_tokens": (bool, None),
    },
    "optim": {
        "lr": (_NUM, (0.0, 1.0)),
        "schedule": (str, ("cosine", "constant")),
        "warmup_ratio": (_NUM, (0.0, 1.0)),
        "min_lr_ratio": (_NUM, (0.0, 1.0)),
        "weight_decay": (_NUM, (0.0, 10.0)),
        "clip_grad": (_NUM, (0.0, 1e6)),
        "betas": (list, None),
    },
    "training": {
        "epochs": (int, (1, 10000)),
        "max_steps": ((int, NoneType), (1, 1 << 30)),
        "seed": (int, (0, 2**31 - 1)),
        "strategy": (str, ("fsdp2", "fsdp")),
        "cpu_offload": (bool, None),
        "use_liger": (bool, None),
        # chunked token log-probs instead of verl's per-token loop (coderl.training.in_verl.fast_logprobs)
        "fast_logprobs": (bool, None),
        # output-layer logits only where the loss counts (coderl.training.in_verl.loss_token_logits)
        "loss_token_logits": (bool, None),
        "torch_compile": (bool, None),
    },
    "checkpoint": CHECKPOINT_SCHEMA,
    "logging": LOGGING_SCHEMA,
}
LOG_BACKENDS = ("console", "wandb", "tensorboard", "file", "mlflow", "swanlab", "clearml", "trackio")


@dataclass(frozen=True)
class BatchPlan:
    """How the global batch is spread: world size, samples per GPU per step, micro batch, accumulation."""

    world_size: int
    per_gpu_batch: int
    micro_batch_size_per_gpu: int
    grad_accumulation: int


# ---------------------------------------------------------------------------- loading


def profile_path(profile: str) -> Path:
    """configs/sft.yaml for 'default' (or ''), else configs/sft_<profile>.yaml."""
    name = "sft.yaml" if profile in ("", "default", "sft") else f"sft_{profile}.yaml"
    return configs_dir() / name


def _resolve_source(path_or_profile: str | Path) -> Path:
    s = str(path_or_profile)
    p = Path(s)
    if s.endswith((".yaml", ".yml")) or p.is_file():
        if not p.is_file():
            raise ConfigError(
                f"recipe file not found: {p}; give a path to an existing YAML or a profile name "
                f"({', '.join(available_profiles())})"
            )
        return p
    if not re.fullmatch(r"[A-Za-z0-9_.-]*", s):
        raise ConfigError(f"recipe {s!r} is neither a YAML file nor a profile name")
    p = profile_path(s)
    if not p.is_file():
        raise ConfigError(
            f"unknown training profile {s!r}: {p} does not exist; available: "
            f"{', '.join(available_profiles())} (PROFILE=<name> selects configs/sft_<name>.yaml)"
        )
    return p


def available_profiles() -> list[str]:
    out = []
    for f in sorted(configs_dir().glob("sft*.yaml")):
        out.append("default" if f.name == "sft.yaml" else f.stem[len("sft_") :])
    return out


def load_recipe(path_or_profile: str | Path | dict = "default") -> dict:
    """Read and validate a recipe: a profile name, a YAML path, or a dict (which may use `base:`)."""
    source, raw = read_recipe(path_or_profile, _resolve_source, "<recipe dict>")
    recipe = validate_recipe(raw, source)
    recipe["source"] = source
    return recipe


def validate_recipe(raw: dict, source: str) -> dict:
    """Check every key's presence, type and range; name the key and the file when something is wrong."""
    out = check_sections(raw, source, SCHEMA)
    _check_cross(out, source)
    out["verl_overrides"] = verl_overrides(raw, source, "engine.fsdp_size=2")
    return out


def _check_cross(r: dict, source: str) -> None:
    betas = r["optim"]["betas"]
    if len(betas) != 2 or not all(
        isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas
    ):
        raise ConfigError(f"{source}: optim.betas: expected two numbers in [0, 1), got {betas!r}")
    backends = r["logging"]["backends"]
    bad = [b for b in backends if b not in LOG_BACKENDS]
    if bad:
        raise ConfigError(f"{source}: logging.backends: unknown backend {bad[0]!r}; allowed: {', '.join(LOG_BACKENDS)}")
    if r["batch"]["dynamic_batch"] and not r["batch"]["max_token_len_per_gpu"]:
        raise ConfigError(
            f"{source}: batch.max_token_len_per_gpu: required when batch.dynamic_batch is true "
            f"(tokens per GPU per micro batch, e.g. 2 * data.max_length)"
        )
    if r["batch"]["balance_tokens"] and not r["data"]["pretokenize"]:
        raise ConfigError(
            f"{source}: batch.balance_tokens needs data.pretokenize: true (the sampler reads each "
            f"sample's token count from the pre-tokenized dataset); set both, or balance_tokens: false"
        )
    if r["batch"]["dynamic_batch"] and not r["batch"]["remove_padding"]:
        raise ConfigError(f"{source}: batch.dynamic_batch needs batch.remove_padding: true (verl packs sequences)")
    files = r["data"]["train_files"]
    if isinstance(files, list) and (not files or not all(isinstance(f, str) for f in files)):
        raise ConfigError(f"{source}: data.train_files: expected a path or a non-empty list of paths")


def recipe_fingerprint(recipe: dict) -> str:
    """A short id of everything that changes the training trajectory (paths and logging excluded)."""
    keep = {k: recipe[k] for k in ("model", "data", "batch", "optim", "training", "verl_overrides")}
    keep = copy.deepcopy(keep)
    keep["model"].pop("path", None)
    keep["data"].pop("train_files", None)
    keep["data"].pop("val_files", None)
    blob = json.dumps(keep, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------- mapping to verl


def batch_plan(recipe: dict, gpus: int, nnodes: int = 1) -> BatchPlan:
    """Spread the global batch over gpus * nnodes processes; refuse splits that would change the recipe."""
    if gpus < 1 or nnodes < 1:
        raise ConfigError(f"GPUS={gpus} NNODES={nnodes}: both must be at least 1")
    world = gpus * nnodes
    g = recipe["batch"]["global_batch_size"]
    if g % world:
        ok = [n for n in range(1, g + 1) if g % n == 0]
        raise ConfigError(
            f"batch.global_batch_size={g} does not divide by the world size {world} "
            f"(GPUS={gpus} x NNODES={nnodes}); use a GPU count in {ok} or change the global batch"
        )
    per_gpu = g // world
    micro = min(recipe["batch"]["micro_batch_size_per_gpu"], per_gpu)
    if per_gpu % micro:
        raise ConfigError(
            f"per-GPU batch {per_gpu} (global {g} / {world} GPUs) is not a multiple of "
            f"batch.micro_batch_size_per_gpu={micro}; pick a micro batch that divides {per_gpu}"
        )
    return BatchPlan(
        world_size=world, per_gpu_batch=per_gpu, micro_batch_size_per_gpu=micro, grad_accumulation=per_gpu // micro
    )


def resolve_path(p: str) -> str:
    """Relative paths in a recipe are relative to the repository root (not to wherever verl runs)."""
    path = Path(p).expanduser()
    return str(path if path.is_absolute() else (repo_root() / path))


def _model_path(p: str) -> str:
    # A hub id (Qwen/Qwen2.5-Coder-7B-Instruct) stays as it is; a local folder becomes absolute.
    path = Path(p).expanduser()
    if path.is_absolute() or p.startswith(".") or (repo_root() / path).exists():
        return resolve_path(p)
    return p


_BARE = re.compile(r"[A-Za-z0-9_./:@+\-]+")


def hydra_value(v: Any) -> str:
    """Format a Python value as a hydra override value (quoted where hydra's grammar would misread it)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(hydra_value(x) for x in v) + "]"
    s = str(v)
    if _BARE.fullmatch(s) and s.lower() not in ("null", "true", "false", "none"):
        return s
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _files(v: str | list | None) -> Any:
    if v is None:
        return None
    return resolve_path(v) if isinstance(v, str) else [resolve_path(x) for x in v]


def save_contents(recipe: dict) -> list[str]:
    c = recipe["checkpoint"]
    return ["model", *(["optimizer"] if c["save_optimizer"] else []), "extra", *(["hf_model"] if c["save_hf"] else [])]


def recipe_to_overrides(recipe: dict, gpus: int, nnodes: int = 1, device: str = "cuda") -> list[str]:
    """Hydra overrides for `verl.trainer.sft_trainer` (config sft_trainer_engine) that realize the recipe.

    Every verl default that differs from the runbook is set explicitly. device="cpu" adds what the
    CPU platform needs (coderl.training.in_verl.cpu_platform): sdpa attention, FSDP2, no torch.compile.
    """
    if device not in ("cuda", "cpu"):
        raise ConfigError(f"device {device!r}: expected cuda or cpu")
    bp = batch_plan(recipe, gpus, nnodes)
    m, d, b, o, t, c, lg = (recipe[k] for k in ("model", "data", "batch", "optim", "training", "checkpoint", "logging"))
    attn = m["attn_implementation"]
    strategy, compile_, liger = t["strategy"], t["torch_compile"], t["use_liger"]
    if device == "cpu":
        if strategy != "fsdp2":
            raise ConfigError(
                f"{recipe.get('source', 'recipe')}: training.strategy={strategy} fails on CPU in verl 0.9.1; use fsdp2"
            )
        attn, compile_, liger = "sdpa", False, False
    backends = list(dict.fromkeys(["console", *lg["backends"]]))
    kv: list[tuple[str, Any]] = [
        ("model.path", _model_path(m["path"])),
        ("model.enable_gradient_checkpointing", m["gradient_checkpointing"]),
        ("model.use_remove_padding", b["remove_padding"]),
        ("model.use_liger", liger),
        ("data.train_files", _files(d["train_files"])),
        ("data.val_files", _files(d["val_files"])),
        ("data.messages_key", d["messages_key"]),
        ("data.max_length", d["max_length"]),
        ("data.truncation", d["truncation"]),
        # Qwen's chat template renders turns differently alone than together; verl's per-turn check
        # would refuse every sample (measured), the concatenated ids are what we want to train on.
        ("data.ignore_input_ids_mismatch", True),
        ("data.pad_mode", "no_padding"),  # the FSDP engine pads itself; "right" is refused by it
        ("data.train_batch_size", b["global_batch_size"]),
        ("data.micro_batch_size_per_gpu", bp.micro_batch_size_per_gpu),
        ("data.use_dynamic_bsz", b["dynamic_batch"]),
    ]
    if b["max_token_len_per_gpu"]:
        kv.append(("data.max_token_len_per_gpu", b["max_token_len_per_gpu"]))
    kv += [
        ("optim.lr", float(o["lr"])),
        ("optim.lr_scheduler_type", o["schedule"]),
        ("optim.lr_warmup_steps_ratio", float(o["warmup_ratio"])),
        ("optim.min_lr_ratio", float(o["min_lr_ratio"])),
        ("optim.weight_decay", float(o["weight_decay"])),
        ("optim.clip_grad", float(o["clip_grad"])),
        ("optim.betas", [float(x) for x in o["betas"]]),
        ("engine.strategy", strategy),
        # FSDP2 CPUOffloadPolicy: params, grads and AdamW state live in host RAM during training.
        # (verl's param_offload/optimizer_offload only offload *between* phases, for RL; no SFT saving.)
        ("engine.offload_policy", t["cpu_offload"]),
        ("engine.use_torch_compile", compile_),
        ("trainer.total_epochs", t["epochs"]),
        ("trainer.seed", t["seed"]),
        ("trainer.default_local_dir", resolve_path(c["dir"])),
        ("trainer.save_freq", c["save_freq"]),
        ("trainer.test_freq", c["test_freq"]),
        ("trainer.resume_mode", c["resume"]),
        ("trainer.max_ckpt_to_keep", c["max_to_keep"]),
        ("checkpoint.save_contents", save_contents(recipe)),
        ("trainer.project_name", lg["project"]),
        ("trainer.experiment_name", lg["experiment"]),
        ("trainer.logger", backends),
        ("trainer.n_gpus_per_node", gpus),
        ("trainer.nnodes", nnodes),
        ("trainer.device", device),
    ]
    if t["max_steps"] is not None:
        kv.append(("trainer.total_training_steps", t["max_steps"]))
    out = [f"{k}={hydra_value(v)}" for k, v in kv]
    if device == "cpu":
        out.append("data.num_workers=0")  # dataloader worker processes only compete for the same cores
        # bf16 matmuls without CPU bf16 support are ~10x slower than fp32 (measured: 289 vs 30 s/step)
        out.append("+engine.mixed_precision={param_dtype:fp32,reduce_dtype:fp32,buffer_dtype:fp32}")
    if attn:
        out.append(f"+model.override_config.attn_implementation={attn}")
    # modules verl imports in every rank before it builds the model
    libs = []
    if attn:
        libs.append(
            "coderl.training.in_verl.stock_export"
        )  # keeps the attention choice out of the exported config.json
    if attn == "coderl_varlen":
        libs.append("coderl.training.in_verl.varlen_attn")  # registers PyTorch's varlen flash kernel with transformers
    if t["fast_logprobs"]:
        libs.append("coderl.training.in_verl.fast_logprobs")  # replaces verl's per-token logprob loop
    if t["loss_token_logits"]:
        libs.append("coderl.training.in_verl.loss_token_logits")  # prompt tokens skip the output layer
    if b["balance_tokens"]:
        libs.append("coderl.training.in_verl.token_balanced_dp")  # same samples per step, equal tokens per GPU
    if libs:
        out.append(f"model.external_lib=[{','.join(libs)}]")
    if d["pretokenize"]:
        out += [
            "data.custom_cls.path=pkg://coderl.training.in_verl.pretokenized",
            "data.custom_cls.name=PretokenizedSFTDataset",
        ]
    out += recipe["verl_overrides"]
    return out


def describe(recipe: dict, gpus: int, nnodes: int = 1, device: str = "cuda") -> str:
    """The effective recipe as the launcher prints it before starting."""
    bp = batch_plan(recipe, gpus, nnodes)
    m, d, b, o, t, c = (recipe[k] for k in ("model", "data", "batch", "optim", "training", "checkpoint"))
    lines = [
        f"recipe        {recipe['name']}  ({recipe.get('source', 'dict')}, fingerprint {recipe_fingerprint(recipe)})",
        f"model         {m['path']}  (gradient checkpointing {m['gradient_checkpointing']}, attention {m['attn_implementation'] or 'verl default'})",
        f"data          train {d['train_files']}  val {d['val_files']}  max_length {d['max_length']} (truncation {d['truncation']})",
        f"devices       {gpus} {'GPU' if device == 'cuda' else 'CPU process'}(s) x {nnodes} node(s) = world {bp.world_size}; {t['strategy']}"
        f"{', CPU offload (params, grads, optimizer in host RAM)' if t['cpu_offload'] else ''}",
        f"batch         global {b['global_batch_size']} = {bp.world_size} x {bp.per_gpu_batch} per GPU; micro {bp.micro_batch_size_per_gpu}"
        f" x accumulation {bp.grad_accumulation}; {'remove padding' if b['remove_padding'] else 'padded'}"
        f"{', dynamic batch ' + str(b['max_token_len_per_gpu']) + ' tok/GPU' if b['dynamic_batch'] else ''}",
        f"optimizer     AdamW lr {o['lr']} {o['schedule']}, warmup {o['warmup_ratio']:.0%}, min_lr_ratio {o['min_lr_ratio']},"
        f" weight decay {o['weight_decay']}, clip {o['clip_grad']}, betas {o['betas']}",
        f"schedule      {t['epochs']} epoch(s){', max ' + str(t['max_steps']) + ' steps' if t['max_steps'] else ''}, seed {t['seed']}",
        f"checkpoints   {c['dir']} every {c['save_freq']} steps (val every {c['test_freq']}), resume {c['resume']},"
        f" contents {'+'.join(save_contents(recipe))}, keep {c['max_to_keep'] or 'all'}",
        f"logging       {', '.join(dict.fromkeys(['console', *recipe['logging']['backends']]))}"
        f" (project {recipe['logging']['project']}, experiment {recipe['logging']['experiment']})",
    ]
    if recipe["verl_overrides"]:
        lines.append(f"verl extras   {' '.join(recipe['verl_overrides'])}")
    return "\n".join(lines)
