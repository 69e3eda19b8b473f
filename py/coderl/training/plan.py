"""Memory and disk plan for full fine-tuning with verl 0.9.1 FSDP2 (formulas in docs/hardware.md).

Per GPU (N = GPUs x nodes, P = parameters, T = tokens in one micro batch):
  sharded state   fp32 master params 4P/N + fp32 grads 4P/N + AdamW m, v 8P/N  (= 16 B/param / N)
  working params  bf16 copies FSDP2 all-gathers: two decoder layers (current + prefetch) and the
                  embedding + lm_head (2 B/param each)
  activations     gradient-checkpointed layer inputs L*T*h*2 B, one layer's recompute
                  T*(4h + 2*kv*d + 3I)*4 B, and the logits T*V*10 B (bf16 logits, fp32 log-softmax,
                  fp32 gradient)
  runtime         1.5 GB (CUDA context, NCCL buffers, allocator slack)
CPU offload (FSDP2 CPUOffloadPolicy, recipe training.cpu_offload) moves the whole sharded state
(16P/N) to host RAM. verl's param_offload/optimizer_offload only offload *between* training phases
(for RL), so they do not lower the SFT peak and the planner does not offer them.

Calibration: 7.6B, 2 GPUs, micro batch 2 of mean 1,343 tokens -> 60.9 + 10.0 = 70.9 GB; measured
71 GB per GPU (docs/hardware.md, Calibration). A checkpoint: model shards 4P + optimizer 8P + HF export 4P (verl writes
fp32) = 16 B/param = 122 GB for 7.6B; measured ~120 GB.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError, TrainingError
from ..models.qwen import HUB_SIZES, SHAPES

log = logging.getLogger(__name__)

GB = 1e9
RUNTIME_OVERHEAD_GB = 1.5
USABLE_FRACTION = 0.95  # of nominal GPU memory: the driver and fragmentation take the rest
DEFAULT_MEAN_TOKENS = 1343  # mean tokens/sample of the runbook's SFT workload (docs/throughput.md)


@dataclass(frozen=True)
class ModelShape:
    name: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied: bool
    head_dim: int = 0

    @property
    def d(self) -> int:
        return self.head_dim or self.hidden // self.heads

    def layer_params(self) -> int:
        h, kvd = self.hidden, self.kv_heads * self.d
        attn = h * h + h + 2 * (h * kvd + kvd) + h * h  # q (bias), k, v (bias), o
        return attn + 3 * h * self.intermediate + 2 * h  # SwiGLU MLP, two RMSNorms

    def embed_params(self) -> int:
        return self.vocab * self.hidden

    def params(self) -> int:
        return self.layers * self.layer_params() + self.embed_params() * (1 if self.tied else 2) + self.hidden


def _from_table(name: str, q) -> ModelShape:
    return ModelShape(
        name,
        q.hidden_size,
        q.num_hidden_layers,
        q.num_attention_heads,
        q.num_key_value_heads,
        q.intermediate_size,
        q.vocab_size,
        q.tie_word_embeddings,
    )


# hub ids of the Qwen2.5 shapes in the one table (coderl.models.qwen); Coder and Instruct share them
KNOWN_MODELS: dict[str, ModelShape] = {}
for _size, _key in HUB_SIZES.items():
    for _family in ("Qwen2.5", "Qwen2.5-Coder"):
        for _suffix in ("", "-Instruct"):
            _name = f"Qwen/{_family}-{_size}{_suffix}"
            KNOWN_MODELS[_name] = _from_table(_name, SHAPES[_key])


def model_shape(model: str) -> ModelShape:
    """Shape of a known hub id, or read from <model>/config.json (a local folder or the file itself)."""
    p = Path(model).expanduser()
    cfg_file = p if p.is_file() else p / "config.json"
    if cfg_file.is_file():
        try:
            c = json.loads(cfg_file.read_text(encoding="utf-8"))
            return ModelShape(
                name=str(model),
                hidden=c["hidden_size"],
                layers=c["num_hidden_layers"],
                heads=c["num_attention_heads"],
                kv_heads=c.get("num_key_value_heads", c["num_attention_heads"]),
                intermediate=c["intermediate_size"],
                vocab=c["vocab_size"],
                tied=bool(c.get("tie_word_embeddings", False)),
                head_dim=c.get("head_dim") or 0,
            )
        except (KeyError, json.JSONDecodeError, TypeError) as e:
            raise ConfigError(
                f"{cfg_file}: not a decoder config with hidden_size/num_hidden_layers/... ({e})"
            ) from None
    for name, shape in KNOWN_MODELS.items():
        if name.lower() == model.lower() or name.split("/")[1].lower() == model.lower():
            return shape
    known = sorted({n.split("/")[1] for n in KNOWN_MODELS})
    raise ConfigError(f"unknown model {model!r}: give a local folder with config.json, or one of: {', '.join(known)}")


@dataclass(frozen=True)
class Workload:
    gpus: int = 1
    nnodes: int = 1
    gpu_mem_gb: float = 80.0
    micro_batch: int = 2
    max_length: int = 4096
    mean_tokens: int = DEFAULT_MEAN_TOKENS
    cpu_offload: bool = False
    remove_padding: bool = False
    max_token_len_per_gpu: int | None = None  # dynamic batch: tokens per micro batch
    fused_logits: bool = False  # liger: the output layer's logits exist one chunk at a time

    @property
    def world(self) -> int:
        return self.gpus * self.nnodes

    def peak_tokens(self) -> int:
        if self.remove_padding and self.max_token_len_per_gpu:
            return self.max_token_len_per_gpu
        return self.micro_batch * self.max_length

    def typical_tokens(self) -> int:
        if self.remove_padding and self.max_token_len_per_gpu:
            return self.max_token_len_per_gpu
        return self.micro_batch * min(self.mean_tokens, self.max_length)


@dataclass
class MemoryPlan:
    params_gb: float
    grads_gb: float
    optimizer_gb: float
    working_params_gb: float
    activations_peak_gb: float
    activations_typical_gb: float
    runtime_gb: float
    host_offload_gb: float
    total_peak_gb: float
    total_typical_gb: float
    usable_gb: float
    fits: bool
    fits_typical: bool


def memory_plan(shape: ModelShape, w: Workload) -> MemoryPlan:
    P, N = shape.params(), w.world
    params = 4 * P / N / GB
    grads = 4 * P / N / GB
    optim = 8 * P / N / GB
    host = 0.0
    if w.cpu_offload:
        host = params + grads + optim
        params = grads = optim = 0.0
    working = (2 * shape.layer_params() + shape.embed_params() * (1 if shape.tied else 2)) * 2 / GB

    def acts(T: int) -> float:
        h, kvd = shape.hidden, shape.kv_heads * shape.d
        ckpt = shape.layers * T * h * 2
        layer = T * (4 * h + 2 * kvd + 3 * shape.intermediate) * 4
        # fp32 logits + their gradient + bf16 copy; with liger only a chunk of ~2 x hidden tokens at a time.
        # Calibration (docs/performance.md, 4x H200, 7.6B, default recipe, 16,384 tokens per micro batch):
        # 51.7 GB reserved by verl, 54 GB planned with the chunk term, 68 GB without it.
        logits = (min(T, 2 * h) if w.fused_logits else T) * shape.vocab * 10
        return (ckpt + layer + logits) / GB

    a_peak, a_typ = acts(w.peak_tokens()), acts(w.typical_tokens())
    base = params + grads + optim + working + RUNTIME_OVERHEAD_GB
    usable = w.gpu_mem_gb * USABLE_FRACTION
    return MemoryPlan(
        params_gb=params,
        grads_gb=grads,
        optimizer_gb=optim,
        working_params_gb=working,
        activations_peak_gb=a_peak,
        activations_typical_gb=a_typ,
        runtime_gb=RUNTIME_OVERHEAD_GB,
        host_offload_gb=host,
        total_peak_gb=base + a_peak,
        total_typical_gb=base + a_typ,
        usable_gb=usable,
        fits=base + a_peak <= usable,
        fits_typical=base + a_typ <= usable,
    )


@dataclass
class DiskPlan:
    model_shards_gb: float
    optimizer_gb: float
    hf_export_gb: float
    hf_export_bf16_gb: float
    per_checkpoint_gb: float
    saves: int
    kept: int
    run_total_gb: float
    run_total_pruned_gb: float  # after `make prune-ckpt KEEP=1` after every save
    free_gb: float | None
    fits: bool | None


def checkpoint_steps(total_steps: int, save_freq: int) -> list[int]:
    """Steps verl saves at: every save_freq steps and the last step."""
    steps = list(range(save_freq, total_steps + 1, save_freq)) if save_freq > 0 else []
    if total_steps not in steps:
        steps.append(total_steps)
    return steps


def disk_plan(
    shape: ModelShape,
    total_steps: int,
    save_freq: int,
    *,
    save_optimizer: bool = True,
    save_hf: bool = True,
    max_to_keep: int | None = None,
    free_bytes: int | None = None,
    start_step: int = 0,
) -> DiskPlan:
    P = shape.params()
    model = 4 * P / GB
    optim = 8 * P / GB if save_optimizer else 0.0
    hf = 4 * P / GB if save_hf else 0.0
    hf16 = 2 * P / GB if save_hf else 0.0
    per = model + optim + hf
    saves = len([s for s in checkpoint_steps(total_steps, save_freq) if s > start_step])
    kept = min(saves, max_to_keep) if max_to_keep else saves
    total = kept * per
    # pruned: the latest keeps everything; older ones keep model shards + a bf16 HF export
    pruned = (per + (kept - 1) * (model + hf16)) if kept else 0.0
    free = free_bytes / GB if free_bytes is not None else None
    return DiskPlan(
        model_shards_gb=model,
        optimizer_gb=optim,
        hf_export_gb=hf,
        hf_export_bf16_gb=hf16,
        per_checkpoint_gb=per,
        saves=saves,
        kept=kept,
        run_total_gb=total,
        run_total_pruned_gb=pruned,
        free_gb=free,
        fits=None if free is None else total <= free,
    )


def free_bytes_at(path: str | Path) -> int:
    """Free space of the filesystem that holds path (or its nearest existing parent)."""
    p = Path(path).resolve()
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free


@dataclass
class Plan:
    model: str
    params_b: float
    workload: dict
    memory: MemoryPlan
    disk: DiskPlan | None
    verdict: str
    fixes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return d


def _fixes(shape: ModelShape, w: Workload) -> list[str]:
    """Ways to make a run that does not fit fit, each with its recomputed peak."""
    out = []
    candidates: list[tuple[str, Workload]] = []
    for g in (w.gpus * 2, w.gpus * 4):
        candidates.append((f"{g} GPUs of {w.gpu_mem_gb:g} GB (GPUS={g})", replace(w, gpus=g)))
    if not w.cpu_offload:
        candidates.append(
            (
                "CPU offload of params, grads and AdamW state (training.cpu_offload: true; slower)",
                replace(w, cpu_offload=True),
            )
        )
    if w.remove_padding and w.max_token_len_per_gpu and w.max_token_len_per_gpu > w.max_length:
        half = max(w.max_length, w.max_token_len_per_gpu // 2)
        candidates.append(
            (
                f"{half} tokens per micro batch (batch.max_token_len_per_gpu: {half})",
                replace(w, max_token_len_per_gpu=half),
            )
        )
        candidates.append(
            (
                f"CPU offload and {w.max_length} tokens per micro batch",
                replace(w, cpu_offload=True, max_token_len_per_gpu=w.max_length),
            )
        )
    elif w.micro_batch > 1:
        candidates.append(("micro batch 1 (batch.micro_batch_size_per_gpu: 1)", replace(w, micro_batch=1)))
    if w.max_length > 2048 and not (w.remove_padding and w.max_token_len_per_gpu):  # token budget rules there
        candidates.append(
            ("max_length 2048 (data.max_length; drops longer samples from the data)", replace(w, max_length=2048))
        )
    for label, cw in candidates:
        m = memory_plan(shape, cw)
        host = f", {m.host_offload_gb:.1f} GB host RAM per GPU" if m.host_offload_gb else ""
        out.append(
            f"{'fits' if m.fits else 'still does not fit'} with {label}: peak {m.total_peak_gb:.1f} GB "
            f"of {m.usable_gb:.1f} GB usable{host}"
        )
    return out


def make_plan(
    model: str,
    w: Workload,
    *,
    total_steps: int | None = None,
    save_freq: int = 100,
    save_optimizer: bool = True,
    save_hf: bool = True,
    max_to_keep: int | None = None,
    ckpt_dir: str | Path | None = None,
) -> Plan:
    shape = model_shape(model)
    mem = memory_plan(shape, w)
    disk = None
    if total_steps is not None:
        free = free_bytes_at(ckpt_dir) if ckpt_dir is not None else None
        disk = disk_plan(
            shape,
            total_steps,
            save_freq,
            save_optimizer=save_optimizer,
            save_hf=save_hf,
            max_to_keep=max_to_keep,
            free_bytes=free,
        )
    fixes: list[str] = []
    if mem.fits:
        verdict = f"FITS: peak {mem.total_peak_gb:.1f} GB per GPU of {mem.usable_gb:.1f} GB usable"
    elif mem.fits_typical:
        verdict = (
            f"RISKY: typical batches need {mem.total_typical_gb:.1f} GB per GPU, the longest "
            f"({w.peak_tokens()} tokens per micro batch) {mem.total_peak_gb:.1f} GB, of {mem.usable_gb:.1f} GB usable"
        )
        fixes = _fixes(shape, w)
    else:
        verdict = (
            f"DOES NOT FIT: {mem.total_peak_gb:.1f} GB per GPU at the longest micro batch "
            f"({mem.total_typical_gb:.1f} GB typical) of {mem.usable_gb:.1f} GB usable"
        )
        fixes = _fixes(shape, w)
    if disk is not None and disk.fits is False:
        verdict += f"; checkpoints DO NOT FIT on disk ({disk.run_total_gb:.0f} GB needed, {disk.free_gb:.0f} GB free)"
        fixes.append(
            f"disk: keep fewer checkpoints (checkpoint.max_to_keep), or run `make prune-ckpt KEEP=1` between "
            f"saves ({disk.run_total_pruned_gb:.0f} GB), or save_optimizer: false (no resume), or a bigger disk"
        )
    return Plan(
        model=model,
        params_b=shape.params() / 1e9,
        workload={**asdict(w), "world": w.world},
        memory=mem,
        disk=disk,
        verdict=verdict,
        fixes=fixes,
    )


def format_plan(p: Plan) -> str:
    m, w = p.memory, p.workload
    lines = [
        f"model {p.model}: {p.params_b:.2f}B parameters; {w['world']} GPU(s) of {w['gpu_mem_gb']:g} GB "
        f"({w['gpus']} x {w['nnodes']} node(s)), micro batch {w['micro_batch']}, max_length {w['max_length']}",
        "",
        "memory per GPU (GB)                 peak    typical",
        f"  parameters fp32 (sharded)    {m.params_gb:9.1f}",
        f"  gradients fp32 (sharded)     {m.grads_gb:9.1f}",
        f"  AdamW state fp32 (sharded)   {m.optimizer_gb:9.1f}",
        f"  bf16 working parameters      {m.working_params_gb:9.1f}",
        f"  activations + logits         {m.activations_peak_gb:9.1f}  {m.activations_typical_gb:9.1f}",
        f"  CUDA/NCCL runtime            {m.runtime_gb:9.1f}",
        f"  total                        {m.total_peak_gb:9.1f}  {m.total_typical_gb:9.1f}   (usable {m.usable_gb:.1f})",
    ]
    if m.host_offload_gb:
        lines.append(f"  offloaded to host RAM        {m.host_offload_gb:9.1f}   per GPU process")
    if p.disk is not None:
        d = p.disk
        lines += [
            "",
            "disk per checkpoint (GB)",
            f"  model shards fp32            {d.model_shards_gb:9.1f}",
            f"  optimizer state              {d.optimizer_gb:9.1f}",
            f"  HF export fp32 (as verl writes){d.hf_export_gb:7.1f}   ({d.hf_export_bf16_gb:.1f} in bf16 after prune-ckpt)",
            f"  one checkpoint               {d.per_checkpoint_gb:9.1f}",
            f"  whole run: {d.saves} saves, {d.kept} kept -> {d.run_total_gb:.1f} GB "
            f"({d.run_total_pruned_gb:.1f} GB pruning older ones)"
            + (f"; free {d.free_gb:.1f} GB" if d.free_gb is not None else ""),
        ]
    lines += ["", p.verdict]
    lines += [f"  - {f}" for f in p.fixes]
    return "\n".join(lines)


def workload_from_recipe(recipe: dict, gpus: int, nnodes: int = 1, gpu_mem_gb: float = 80.0) -> Workload:
    b, t = recipe["batch"], recipe["training"]
    return Workload(
        gpus=gpus,
        nnodes=nnodes,
        gpu_mem_gb=gpu_mem_gb,
        micro_batch=b["micro_batch_size_per_gpu"],
        max_length=recipe["data"]["max_length"],
        cpu_offload=t["cpu_offload"],
        remove_padding=b["remove_padding"],
        max_token_len_per_gpu=b["max_token_len_per_gpu"] if b["dynamic_batch"] else None,
        fused_logits=recipe["training"]["use_liger"],
    )


def recipe_disk_plan(recipe: dict, shape, run_dir: Path, total_steps: int, start_step: int) -> DiskPlan:
    """The disk the recipe's remaining checkpoints need (its checkpoint section) vs what is free under run_dir."""
    c = recipe["checkpoint"]
    return disk_plan(
        shape,
        total_steps,
        c["save_freq"],
        save_optimizer=c["save_optimizer"],
        save_hf=c["save_hf"],
        max_to_keep=c["max_to_keep"],
        free_bytes=free_bytes_at(run_dir),
        start_step=start_step,
    )


def checkpoint_disk_check(
    recipe: dict, run_dir: Path, world_size: int, total_steps: int, start_step: int
) -> DiskPlan | None:
    """Raise TrainingError when the checkpoints this launch will still write cannot fit on the disk."""
    from .recipe import resolve_path

    model = recipe["model"]["path"]
    local = Path(resolve_path(model))
    try:
        shape = model_shape(str(local) if (local / "config.json").is_file() else model)
    except ConfigError as e:
        log.warning("disk check skipped: %s", e)
        return None
    d = recipe_disk_plan(recipe, shape, run_dir, total_steps, start_step)
    if d.fits is False:
        raise TrainingError(
            f"checkpoints will not fit on the disk under {run_dir}: {d.saves} more save(s) x {d.per_checkpoint_gb:.1f} GB "
            f"(model {d.model_shards_gb:.1f} + optimizer {d.optimizer_gb:.1f} + HF export {d.hf_export_gb:.1f}), "
            f"{d.kept} kept = {d.run_total_gb:.1f} GB, but only {d.free_gb:.1f} GB is free. Fix: set "
            f"checkpoint.max_to_keep, run `make prune-ckpt KEEP=1` between saves, raise checkpoint.save_freq, "
            f"or use a bigger disk (see `make plan`)"
        )
    log.info(
        "disk check: %d save(s) x %.2f GB = %.2f GB needed, %.1f GB free",
        d.saves,
        d.per_checkpoint_gb,
        d.run_total_gb,
        d.free_gb or 0,
    )
    return d


RUNBOOK_STEPS = 378  # 2,020 samples / 16 per step = 126 steps x 3 epochs


def plan_sft_run(
    recipe_name: str,
    gpus: int,
    nnodes: int,
    gpu_mem_gb: float,
    model: str | None = None,
    workload_changes: dict[str, Any] | None = None,
    steps: int | None = None,
) -> tuple[Plan, int, str]:
    """The plan `coderl plan` prints for a recipe: (plan, total steps, a note when the steps were assumed).

    `workload_changes` overrides Workload fields (micro_batch, max_length, mean_tokens, cpu_offload);
    without `steps`, they come from the recipe's data, else the runbook's 378 are assumed."""
    from ..errors import CoderlError
    from .recipe import load_recipe, resolve_path
    from .steps import total_steps

    recipe = load_recipe(recipe_name)
    w = replace(workload_from_recipe(recipe, gpus, nnodes, gpu_mem_gb), **(workload_changes or {}))
    note = ""
    if steps is None:
        try:
            steps = total_steps(recipe, w.world)
        except CoderlError:
            steps, note = RUNBOOK_STEPS, " (training data not found: assuming the runbook's 378 steps)"
    c = recipe["checkpoint"]
    plan = make_plan(
        model or recipe["model"]["path"],
        w,
        total_steps=steps,
        save_freq=c["save_freq"],
        save_optimizer=c["save_optimizer"],
        save_hf=c["save_hf"],
        max_to_keep=c["max_to_keep"],
        ckpt_dir=resolve_path(c["dir"]),
    )
    return plan, steps, note
