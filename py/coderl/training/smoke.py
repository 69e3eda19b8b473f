"""The smoke run (`make smoke`: a short training run) and the runbook's checklist on what it left: PASS/FAIL with why."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..checkpoints import Checkpoint, latest_step
from .launch import FATAL_PATTERNS
from .run_record import read_metrics

log = logging.getLogger(__name__)

# Below this many parameters the checkpoint is loaded for real and run forward; above, its weights
# are checked against the architecture on the meta device (a 7B fp32 export would need ~30 GB RAM).
FULL_LOAD_MAX_PARAMS = 1_000_000_000


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


def check_run(run_dir: str | Path, ckpt_steps: list[int], log_path: str | Path, returncode: int) -> list[Check]:
    run_dir = Path(run_dir)
    metrics = read_metrics(run_dir)
    checks = [Check("trainer exited cleanly", returncode == 0, f"exit code {returncode}")]
    checks.append(_loss_fell(metrics))
    checks.append(_grad_norm_logged(metrics))
    for step in ckpt_steps:
        checks.append(_checkpoint_exists(run_dir, step))
    last = max(ckpt_steps)
    checks.append(_hf_export(Checkpoint.at(run_dir, last).export_dir))
    checks.append(_no_fatal_lines(Path(log_path)))
    return checks


def _loss_fell(metrics: dict[int, dict]) -> Check:
    losses = [(s, m["train/loss"]) for s, m in metrics.items() if "train/loss" in m]
    if len(losses) < 2:
        return Check("loss fell", False, f"only {len(losses)} train/loss value(s) logged")
    k = max(1, min(3, len(losses) // 3))
    first = sum(v for _, v in losses[:k]) / k
    last = sum(v for _, v in losses[-k:]) / k
    ok = math.isfinite(last) and last < first
    return Check("loss fell", ok, f"mean of first {k} steps {first:.4f} -> last {k} steps {last:.4f}")


def _grad_norm_logged(metrics: dict[int, dict]) -> Check:
    steps = [s for s, m in metrics.items() if "train/loss" in m]
    missing = [s for s in steps if "train/grad_norm" not in metrics[s]]
    bad = [s for s in steps if s not in missing and not math.isfinite(metrics[s]["train/grad_norm"])]
    ok = bool(steps) and not missing and not bad
    detail = (
        f"{len(steps)} steps, grad_norm {metrics[steps[-1]]['train/grad_norm']:.3f} at step {steps[-1]}"
        if ok
        else f"missing at steps {missing[:5]}, non-finite at {bad[:5]}"
        if steps
        else "no steps logged"
    )
    return Check("grad_norm logged", ok, detail)


def _checkpoint_exists(run_dir: Path, step: int) -> Check:
    ck = Checkpoint.at(run_dir, step)
    d = ck.path
    shards = [p.name for p in ck.shard_files("model")]
    optim = ck.shard_files("optim")
    ok = bool(shards) and bool(optim)
    latest = latest_step(run_dir)
    return Check(
        f"checkpoint at step {step}",
        ok,
        f"{d} ({len(shards)} model shard(s), {len(optim)} optimizer shard(s); latest {latest})"
        if d.is_dir()
        else f"{d} missing",
    )


def _hf_export(hf: Path) -> Check:
    name = "huggingface/ config.json + weights loadable"
    if not (hf / "config.json").is_file():
        return Check(name, False, f"{hf / 'config.json'} missing (is hf_model in checkpoint.save_contents?)")
    weights = sorted(hf.glob("*.safetensors")) or sorted(hf.glob("*.bin"))
    if not weights:
        return Check(name, False, f"no weight files in {hf}")
    try:
        detail = _load(hf)
    except Exception as e:  # any failure to load is exactly what this check reports
        return Check(name, False, f"{hf}: {type(e).__name__}: {str(e)[:200]}")
    return Check(name, True, detail)


# what stock transformers and vLLM accept in a config.json (absent is best: the loader then picks)
STOCK_ATTN = ("eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")


def _load(hf: Path) -> str:
    import json

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    attn = json.loads((hf / "config.json").read_text()).get("attn_implementation")
    if attn is not None and attn not in STOCK_ATTN:  # loads here only if this process registered it
        raise ValueError(f'config.json sets attn_implementation="{attn}", which stock transformers and vLLM refuse')
    cfg = AutoConfig.from_pretrained(hf, local_files_only=True)
    with torch.device("meta"):
        meta = AutoModelForCausalLM.from_config(cfg)
    n_params = sum(p.numel() for p in meta.parameters())
    if n_params <= FULL_LOAD_MAX_PARAMS:
        model = AutoModelForCausalLM.from_pretrained(hf, local_files_only=True, dtype=torch.float32)
        ids = torch.tensor([[1, 2, 3, 4]])
        with torch.no_grad():
            logits = model(input_ids=ids).logits
        if not torch.isfinite(logits).all():
            raise ValueError("forward pass gave non-finite logits")
        return f"{hf}: loaded {n_params / 1e6:.1f}M parameters, forward pass finite"
    return _check_weights_cover(hf, meta, n_params)


def _check_weights_cover(hf: Path, meta, n_params: int) -> str:
    """Every parameter of the architecture is present in the safetensors files with the right shape."""
    from safetensors import safe_open

    shapes: dict[str, tuple] = {}
    for f in sorted(hf.glob("*.safetensors")):
        with safe_open(str(f), framework="pt") as sf:
            for k in sf.keys():
                shapes[k] = tuple(sf.get_slice(k).get_shape())
    tied = getattr(meta.config, "tie_word_embeddings", False)
    for k, p in meta.state_dict().items():
        if k not in shapes:
            if tied and k.startswith("lm_head"):
                continue
            raise KeyError(f"weight {k} missing from the export")
        if shapes[k] != tuple(p.shape):
            raise ValueError(f"weight {k} has shape {shapes[k]}, the architecture expects {tuple(p.shape)}")
    return f"{hf}: all {n_params / 1e9:.2f}B parameters present with the right shapes"


def _no_fatal_lines(log_path: Path) -> Check:
    if not log_path.is_file():
        return Check("no OOM / NCCL errors", False, f"{log_path} missing")
    hits = [ln.strip()[:160] for ln in log_path.read_text(errors="replace").splitlines() if FATAL_PATTERNS.search(ln)]
    return Check("no OOM / NCCL errors", not hits, f"{log_path.name}: " + (hits[0] if hits else "none found"))


@dataclass(frozen=True)
class SmokeResult:
    run_dir: Path
    checks: list[Check]
    log_path: Path


def run_smoke(
    recipe: str = "default",
    gpus: int = 1,
    device: str = "auto",
    model: str | None = None,
    train_file: str | None = None,
    val_file: str | None = None,
    run_dir: str | Path | None = None,
    steps: int = 10,
    save_freq: int = 5,
    say: Callable[[str], None] = print,
) -> SmokeResult:
    """`make smoke`: `steps` training steps saving every `save_freq`, then the checklist on what it left.

    On CPU without `model`, a tiny random-init Qwen2 (real tokenizer) is built in the run folder; a tiny
    model, or a recipe whose training data is missing, trains on a toy SFT set written there."""
    from ..paths import repo_root
    from .launch import detect_device, train
    from .recipe import load_recipe, resolve_path
    from .toy_data import write_toy_sft

    device = detect_device() if device == "auto" else device
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    run_dir = Path(run_dir or repo_root() / "checkpoints" / "smoke" / stamp).resolve()
    base = load_recipe(recipe)
    over: dict = {
        "base": recipe if not str(recipe).endswith((".yaml", ".yml")) else str(Path(recipe).resolve()),
        "name": "smoke",
        "training": {"max_steps": steps},
        "checkpoint": {
            "save_freq": save_freq,
            "test_freq": save_freq,
            "resume": "auto",
            "save_hf": True,
            "save_optimizer": True,
            "max_to_keep": None,
        },
        "logging": {"experiment": "smoke", "backends": ["console"]},
    }
    build = device == "cpu" and model is None
    model_path = model
    if build:
        from ..models.tiny import build_tiny_qwen2

        model_dir = run_dir / "tiny_model"
        if not (model_dir / "config.json").is_file():
            build_tiny_qwen2(model_dir)
        model_path = str(model_dir)
    # a tiny random-init model (coderl make-tiny-model) on any device gets the toy settings
    tiny = model_path is not None and (Path(model_path) / "coderl_tiny_spec.json").is_file()
    if model_path:
        over["model"] = {"path": model_path}
    if tiny:
        # a tiny model learns visibly in 10 steps only with a large step size
        over["optim"] = {"lr": 1e-3, "warmup_ratio": 0.0}
        over["data"] = {"max_length": 512}
        over["batch"] = {"global_batch_size": 4 * gpus, "micro_batch_size_per_gpu": 2}
    global_batch = over.get("batch", {}).get("global_batch_size", base["batch"]["global_batch_size"])
    if train_file is None and (tiny or not Path(resolve_path(_first(base["data"]["train_files"]))).is_file()):
        # enough samples for every step within one epoch (verl stops after the last epoch)
        n_train = max(48, steps * global_batch)
        train_file, val_file = map(str, write_toy_sft(run_dir / "data", n_train=n_train, n_val=global_batch))
        say(f"smoke: using a toy SFT set ({train_file}); pass --train-file for your own data")
    if train_file is not None:
        over.setdefault("data", {}).update(train_files=train_file, val_files=val_file)
    summary = train(over, gpus=gpus, device=device, run_dir=run_dir, echo="metrics")
    ckpt_steps = list(range(save_freq, steps + 1, save_freq))
    if steps not in ckpt_steps:
        ckpt_steps.append(steps)
    return SmokeResult(run_dir, check_run(run_dir, ckpt_steps, summary.log_path, summary.returncode), summary.log_path)


def _first(files) -> str:
    return files if isinstance(files, str) else files[0]
