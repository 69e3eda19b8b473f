"""Launch verl's GRPO trainer (`python -m verl.trainer.main_ppo`) for an RL recipe, resumably: `make rl GPUS=N`.

The same guards as `make train` (coderl.training.launch, whose machinery this reuses): the plan
first (memory verdict printed, a run whose checkpoints cannot fit on disk refused), automatic
resume from the latest checkpoint, refusal of a finished run and of a changed GPU count, one
launcher per run directory, a log per attempt, verl's step lines appended to metrics.jsonl, and
Ctrl-C / SIGTERM / SIGHUP stopping the trainer with its Ray processes.

The start model is resolved once (best_sft -> best_checkpoint.json) and recorded in the run
record: a resumed run keeps it even if a later SFT evaluation selected another checkpoint.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..checkpoints import list_checkpoints
from ..errors import ConfigError, DataError, TrainingError
from ..training.launch import RunSummary, _outcome, _run_attempt, _run_lock, detect_device, settle_attempt
from ..training.progress import Progress
from ..training.recipe import resolve_path
from ..training.run_record import RunRecord, check_resumable, read_metrics, require_run_dir
from ..training.steps import count_rows
from .recipe import describe_rl, load_rl_recipe, resolve_start_model, rl_fingerprint, rl_overrides

log = logging.getLogger(__name__)

# verl imports these in every process (driver, TaskRunner, workers, rollout servers)
PLUGINS = ["coderl.rl.overlong"]
CPU_PLUGINS = ["coderl.training.in_verl.cpu_platform", "coderl.rl.hf_rollout"]


def rl_total_steps(recipe: dict, extra_overrides: Sequence[str] = ()) -> int:
    """Steps verl will run: its dataloader drops the last incomplete batch of prompts."""
    max_steps = recipe["training"]["max_steps"]
    for o in extra_overrides:
        if o.startswith("trainer.total_training_steps="):
            max_steps = int(o.split("=", 1)[1])
    n = count_rows(recipe["data"]["train_files"])
    per_epoch = n // recipe["batch"]["prompts_per_step"]
    if per_epoch == 0:
        raise DataError(
            f"{recipe['data']['train_files']}: {n} problems make no full step of "
            f"{recipe['batch']['prompts_per_step']} prompts; add data or lower batch.prompts_per_step"
        )
    by_epochs = per_epoch * recipe["training"]["epochs"]
    if max_steps is not None and max_steps > by_epochs:
        # verl's loop ends after the last epoch even when total_training_steps asks for more
        log.warning(
            "max_steps %d > %d epochs x %d steps: verl stops at step %d",
            max_steps,
            recipe["training"]["epochs"],
            per_epoch,
            by_epochs,
        )
    return by_epochs if max_steps is None else min(max_steps, by_epochs)


def ray_overrides(gpus: int, device: str) -> list[str]:
    # address=local: never attach to a Ray cluster someone else started on this machine
    out = ["+ray_kwargs.ray_init.address=local"]
    if device == "cpu":
        # logical slots: verl reserves one "GPU" and a few CPUs per worker; nothing is pinned
        out += [f"+ray_kwargs.ray_init.num_gpus={gpus}", f"ray_kwargs.ray_init.num_cpus={4 * gpus + 4}"]
    return out


def plugin_env(device: str) -> dict[str, str]:
    env = {
        "VERL_USE_EXTERNAL_MODULES": ",".join(PLUGINS + (CPU_PLUGINS if device == "cpu" else [])),
        "RAY_DEDUP_LOGS": "0",
        "PYTHONUNBUFFERED": "1",
    }
    if device == "cpu":
        env.update(VERL_PLATFORM="cpu", VERL_ENGINE_DEVICE="cuda")
    return env


def rl_command(overrides: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "verl.trainer.main_ppo", *overrides]


def rl_train(
    recipe_or_path: str | Path | dict = "default",
    *,
    gpus: int = 1,
    device: str = "auto",
    run_dir: str | Path | None = None,
    extra_overrides: Sequence[str] = (),
    model_path: str | None = None,
    echo: str = "metrics",
    disk_check: bool = True,
    gpu_mem_gb: float | None = None,
    env: dict[str, str] | None = None,
) -> RunSummary:
    """Run (or resume) verl's GRPO trainer for an RL recipe to completion; summarize the attempt.

    Raises TrainingError for refused launches; a launch that ran returns a RunSummary whose status
    says how it ended (finished | failed | interrupted).
    """
    if echo not in ("full", "metrics", "none"):
        raise ConfigError(f"echo={echo!r}: expected full, metrics or none")
    recipe = load_rl_recipe(recipe_or_path)
    if run_dir is not None:
        recipe["checkpoint"]["dir"] = str(Path(run_dir).resolve())
    device = detect_device() if device == "auto" else device
    rdir = Path(resolve_path(recipe["checkpoint"]["dir"]))
    require_run_dir(rdir)
    world = gpus
    steps = rl_total_steps(recipe, extra_overrides)
    start_step = check_resumable(rdir, world, steps, recipe["checkpoint"]["resume"])

    with _run_lock(rdir, 0):
        record = RunRecord.load(rdir)
        _check_rl_record(record, world, recipe)
        start_model = record.data.get("start_model") if list_checkpoints(rdir) else None
        start_model = start_model or model_path or resolve_start_model(recipe)
        if disk_check:
            from .plan import rl_disk_check

            rl_disk_check(recipe, start_model, rdir, steps, start_step)
        plan_line = ""
        if device == "cuda" and gpu_mem_gb:
            from .plan import rl_memory_line

            plan_line = rl_memory_line(recipe, start_model, gpus, gpu_mem_gb) + "\n"
        overrides = [
            *rl_overrides(recipe, gpus, 1, device, model_path=start_model),
            *ray_overrides(gpus, device),
            *extra_overrides,
        ]
        attempt, log_path = record.next_log_path(0)
        cmd = rl_command(overrides)
        header = (
            f"{describe_rl(recipe, gpus, 1, device)}\n{plan_line}"
            f"start model   {start_model}\n"
            f"steps         {steps} in total; this attempt starts after step {start_step} (attempt {attempt})\n"
            f"run dir       {rdir}\nlog           {log_path}\n"
        )
        if echo != "none":
            print(header + f"verl          {' '.join(overrides)}", flush=True)
        record.data.update(
            name=recipe["name"],
            kind="rl",
            recipe_fingerprint=rl_fingerprint(recipe),
            world_size=world,
            gpus_per_node=gpus,
            nnodes=1,
            device=device,
            total_steps=steps,
            start_model=start_model,
        )
        att = record.start_attempt(attempt, log_path, start_step, cmd, world_size=world)
        run_env = {**os.environ, **(env or {}), **plugin_env(device)}
        summary = _run_attempt(cmd, run_env, log_path, header, rdir, attempt, echo, 0, Progress(steps, world))
        last_ckpt = settle_attempt(summary, rdir, start_step, steps, world)
        record.end_attempt(
            att,
            status=summary.status,
            returncode=summary.returncode,
            last_step=summary.last_step,
            last_checkpoint=last_ckpt,
            wall_s=round(summary.wall_s, 1),
        )
    if echo != "none":
        print(_outcome(summary), flush=True)
    return summary


def _check_rl_record(record: RunRecord, world: int, recipe: dict) -> None:
    ws = record.data.get("world_size")
    if ws is not None and ws != world and list_checkpoints(record.run_dir):
        raise TrainingError(
            f"{record.run_dir}: this run was launched with {ws} GPUs and has checkpoints; verl 0.9.1 "
            f"cannot resume them with {world}. Relaunch with GPUS={ws}, or start a new run in "
            f"another directory (RUN_DIR=...)"
        )
    fp = record.data.get("recipe_fingerprint")
    if fp and fp != rl_fingerprint(recipe):
        log.warning(
            "%s: the RL recipe changed since this run was started (fingerprint %s -> %s); resuming anyway",
            record.run_dir,
            fp,
            rl_fingerprint(recipe),
        )


def rewards(run_dir: str | Path) -> dict[int, float]:
    """step -> mean reward of that step's answers (verl's critic/score/mean), latest attempt per step."""
    return {s: m["critic/score/mean"] for s, m in read_metrics(run_dir).items() if "critic/score/mean" in m}
