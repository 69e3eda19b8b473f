"""Launch the real verl SFT trainer (torchrun -m verl.trainer.sft_trainer) for a recipe, resumably.

    from coderl.training.launch import train
    summary = train("runbook", gpus=4)                                   # a GPU box
    summary = train(recipe_dict, gpus=1, device="cpu", run_dir=...)       # the demo / tests on CPU

Every launch: validates the recipe, works out the number of steps, refuses launches verl would
get wrong (finished run, other process count, checkpoints that cannot fit on disk), prints the
effective config, runs torchrun in its own session with its output teed to a per-attempt log,
parses verl's `step:N - ...` lines into <run dir>/metrics.jsonl, and on Ctrl-C / SIGTERM / SIGHUP
stops torchrun *and* its workers.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..checkpoints import Checkpoint, latest_step, list_checkpoints
from ..errors import ConfigError, TrainingError
from . import process_tree
from .console_metrics import parse_step_line, short
from .progress import Progress
from .recipe import describe, load_recipe, recipe_fingerprint, recipe_to_overrides, resolve_path
from .run_record import RunRecord, append_metrics, check_resumable, read_metrics, require_run_dir
from .steps import total_steps

log = logging.getLogger(__name__)

# What verl needs to run on CPU (see coderl.training.in_verl.cpu_platform)
CPU_ENV = {
    "VERL_USE_EXTERNAL_MODULES": "coderl.training.in_verl.cpu_platform",
    "VERL_PLATFORM": "cpu",
    "VERL_ENGINE_DEVICE": "cuda",
    "CUDA_VISIBLE_DEVICES": "",
}
# Lines in a log that mean the accelerator or the collective layer failed
FATAL_PATTERNS = re.compile(
    r"CUDA out of memory|OutOfMemoryError|NCCL error|NCCL WARN|ncclInternalError|"
    r"ncclSystemError|ProcessGroupNCCL.*(timeout|Timeout)|Watchdog caught collective"
)


@dataclass
class RunSummary:
    """What one launch did. status: finished | failed | interrupted."""

    run_dir: Path
    status: str
    returncode: int
    attempt: int
    log_path: Path
    metrics_path: Path
    start_step: int
    last_step: int | None
    total_steps: int
    world_size: int
    checkpoints: list[int] = field(default_factory=list)
    losses: dict[int, float] = field(default_factory=dict)  # this attempt's train/loss per step
    fatal_lines: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    def hf_dirs(self) -> list[Path]:
        """huggingface/ folders of the checkpoints, oldest first (what evaluation loads)."""
        return [Checkpoint.at(self.run_dir, s).export_dir for s in self.checkpoints]


def detect_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def torchrun_command(
    overrides: Sequence[str],
    gpus: int,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str | None = None,
    master_port: int | None = None,
) -> list[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={gpus}"]
    if nnodes == 1:
        cmd.append("--standalone")
    else:
        if not master_addr:
            raise ConfigError(f"NNODES={nnodes} needs MASTER_ADDR (the address of node 0) on every node")
        cmd += [
            f"--nnodes={nnodes}",
            f"--node_rank={node_rank}",
            f"--master_addr={master_addr}",
            f"--master_port={master_port or 29500}",
        ]
    return [*cmd, "-m", "verl.trainer.sft_trainer", *overrides]


@contextmanager
def _run_lock(run_dir: Path, node_rank: int) -> Iterator[None]:
    """One launcher per run directory (and node): a second one would interleave checkpoints."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / f".coderl_train_node{node_rank}.lock", "a") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TrainingError(
                f"another `coderl train` is already running on {run_dir}; wait for it or stop it "
                f"(Ctrl-C in its terminal)"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


@contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) stop the run like Ctrl-C: cleanly, workers included."""
    if not _is_main_thread():  # signal handlers can only be installed from the main thread
        yield
        return

    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, raise_interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def check_disk(recipe: dict, run_dir: Path, world_size: int, steps: int, start_step: int) -> None:
    """Refuse a run whose remaining checkpoints cannot fit on the disk under run_dir."""
    from .plan import checkpoint_disk_check

    checkpoint_disk_check(recipe, run_dir, world_size, steps, start_step)


def train(
    recipe_or_path: str | Path | dict = "default",
    *,
    gpus: int = 1,
    device: str = "auto",
    run_dir: str | Path | None = None,
    extra_overrides: Sequence[str] = (),
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str | None = None,
    master_port: int | None = None,
    echo: str = "metrics",
    disk_check: bool = True,
    env: dict[str, str] | None = None,
) -> RunSummary:
    """Run the real verl trainer for a recipe to completion (or resume it) and summarize the attempt.

    recipe_or_path: a profile name ("default", "runbook"), a YAML path or a recipe dict (dicts may
    use `base: runbook` and override a few keys). run_dir replaces checkpoint.dir. device: cuda,
    cpu or auto. echo: "full" prints every line of verl's output, "metrics" one line per step,
    "none" nothing (the log file always gets everything). Raises TrainingError for refused launches;
    a launch that ran returns a RunSummary whose status says how it ended.
    """
    if echo not in ("full", "metrics", "none"):
        raise ConfigError(f"echo={echo!r}: expected full, metrics or none")
    recipe = load_recipe(recipe_or_path)
    if run_dir is not None:
        recipe["checkpoint"]["dir"] = str(Path(run_dir).resolve())
    device = detect_device() if device == "auto" else device
    world = gpus * nnodes
    overrides = [*recipe_to_overrides(recipe, gpus, nnodes, device), *extra_overrides]
    rdir = Path(resolve_path(recipe["checkpoint"]["dir"]))
    require_run_dir(rdir)
    steps = total_steps(recipe, world, extra_overrides)
    start_step = check_resumable(rdir, world, steps, recipe["checkpoint"]["resume"])
    if disk_check:
        check_disk(recipe, rdir, world, steps, start_step)

    with _run_lock(rdir, node_rank):
        record = RunRecord.load(rdir)
        _check_record(record, world, recipe)
        attempt, log_path = record.next_log_path(node_rank)
        # verl's hydra writes outputs/<date>/<time>/ (its config and sft_trainer.log) into the cwd:
        # keep it beside this attempt's log instead of in whatever folder the launch was typed in
        if not any(o.startswith("hydra.run.dir=") for o in overrides):
            overrides.append(f"hydra.run.dir={hydra_dir(log_path)}")
        cmd = torchrun_command(overrides, gpus, nnodes, node_rank, master_addr, master_port)
        header = (
            f"{describe(recipe, gpus, nnodes, device)}\n"
            f"steps         {steps} in total; this attempt starts after step {start_step} (attempt {attempt})\n"
            f"run dir       {rdir}\nlog           {log_path}\n"
        )
        if echo != "none":
            print(header + f"verl          {' '.join(overrides)}", flush=True)
        if node_rank == 0:
            record.data.update(
                name=recipe["name"],
                recipe_fingerprint=recipe_fingerprint(recipe),
                world_size=world,
                gpus_per_node=gpus,
                nnodes=nnodes,
                device=device,
                total_steps=steps,
            )
            att = record.start_attempt(attempt, log_path, start_step, cmd, world_size=world)
        run_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        if device == "cpu":
            run_env.update(CPU_ENV)
        summary = _run_attempt(cmd, run_env, log_path, header, rdir, attempt, echo, node_rank, Progress(steps, world))
        last_ckpt = settle_attempt(summary, rdir, start_step, steps, world)
        if node_rank == 0:
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


def settle_attempt(summary: RunSummary, rdir: Path, start_step: int, steps: int, world: int) -> int | None:
    """Fill in the ended attempt's summary; return the latest checkpoint step (None if none).

    An attempt that exited on its own finished only if it returned 0 and the last step is saved.
    """
    summary.start_step, summary.total_steps, summary.world_size = start_step, steps, world
    last_ckpt = latest_step(rdir)
    if summary.status == "exited":
        summary.status = "finished" if summary.returncode == 0 and (last_ckpt or 0) >= steps else "failed"
    summary.checkpoints = [c.step for c in list_checkpoints(rdir)]
    return last_ckpt


def _check_record(record: RunRecord, world: int, recipe: dict) -> None:
    ws = record.data.get("world_size")
    if ws is not None and ws != world and list_checkpoints(record.run_dir):
        raise TrainingError(
            f"{record.run_dir}: this run was launched with {ws} processes and has checkpoints; "
            f"verl 0.9.1 cannot resume them with {world}. Relaunch with GPUS={ws} (x NNODES), "
            f"or start a new run in another directory"
        )
    fp = record.data.get("recipe_fingerprint")
    if fp and fp != recipe_fingerprint(recipe):
        log.warning(
            "%s: the recipe changed since this run was started (fingerprint %s -> %s); resuming anyway",
            record.run_dir,
            fp,
            recipe_fingerprint(recipe),
        )


def hydra_dir(log_path: Path) -> Path:
    """Where verl's hydra output of one attempt goes: logs/attempt_NNN_hydra/ beside logs/attempt_NNN.log."""
    return log_path.parent / f"{log_path.stem}_hydra"


def _run_attempt(
    cmd: list[str],
    env: dict[str, str],
    log_path: Path,
    header: str,
    rdir: Path,
    attempt: int,
    echo: str,
    node_rank: int,
    progress: Progress,
) -> RunSummary:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    summary = RunSummary(
        run_dir=rdir,
        status="exited",
        returncode=-1,
        attempt=attempt,
        log_path=log_path,
        metrics_path=rdir / "metrics.jsonl",
        start_step=0,
        last_step=None,
        total_steps=0,
        world_size=0,
    )
    t0 = time.monotonic()
    # "x": never overwrite an earlier attempt's log
    with open(log_path, "x", encoding="utf-8") as logf, _signals_as_interrupt():
        logf.write(header + "command: " + " ".join(cmd) + "\n\n")
        logf.flush()
        proc = process_tree.start(cmd, env)
        try:
            _pump(proc, logf, summary, rdir, attempt, echo, node_rank, progress)
            summary.returncode = proc.wait()
        except KeyboardInterrupt:
            # stop the tree first: printing may fail (a closed terminal or pipe) and must not leave workers
            process_tree.kill_tree(proc)
            summary.status, summary.returncode = "interrupted", 130
            logf.write("\n[coderl] interrupted: stopped torchrun and its workers\n")
            logf.flush()
        finally:
            if proc.poll() is None:
                process_tree.kill_tree(proc)
    summary.wall_s = time.monotonic() - t0
    return summary


def _pump(
    proc: subprocess.Popen,
    logf,
    summary: RunSummary,
    rdir: Path,
    attempt: int,
    echo: str,
    node_rank: int,
    progress: Progress,
) -> None:
    """Tee torchrun's output to the attempt log (and the console), recording verl's step lines.

    After each training step line a progress line (step/total, s/step, tokens/s/GPU, ETA) goes to
    the log and, unless echo is "none", to the console.
    """
    assert proc.stdout is not None
    for line in proc.stdout:
        logf.write(line)
        logf.flush()
        if echo == "full":
            sys.stdout.write(line)
            sys.stdout.flush()
        if FATAL_PATTERNS.search(line):
            summary.fatal_lines.append(line.strip()[:300])
        parsed = parse_step_line(line)
        if parsed is None:
            continue
        step, metrics = parsed
        summary.last_step = step
        if "train/loss" in metrics:
            summary.losses[step] = metrics["train/loss"]
        if node_rank == 0:
            append_metrics(rdir, attempt, step, metrics)
        where = progress.update(step, metrics)
        if where is not None:
            logf.write(where + "\n")
            logf.flush()
        if echo == "metrics":
            print(short(step, metrics) + (f"  | {where.removeprefix('[progress] ')}" if where else ""), flush=True)
        elif echo == "full" and where is not None:
            print(where, flush=True)


def _outcome(s: RunSummary) -> str:
    lines = [
        f"{s.status}: attempt {s.attempt}, exit code {s.returncode}, last logged step {s.last_step} of "
        f"{s.total_steps}, checkpoints {s.checkpoints or 'none'}, {s.wall_s:.0f} s"
    ]
    if s.status == "interrupted":
        lines.append("resume with the same command (the same GPU count); it continues from the latest checkpoint")
    elif s.status == "failed":
        lines.append(f"see the log: {s.log_path}")
        for fl in s.fatal_lines[:3]:
            lines.append(f"  {fl}")
        if any("memory" in fl.lower() for fl in s.fatal_lines):
            lines.append(
                "out of memory: see `make plan GPUS=N GPU_MEM_GB=M` for offload / more GPUs / shorter max_length"
            )
    return "\n".join(lines)


def metrics_of(run_dir: str | Path) -> dict[int, dict]:
    """step -> logged metrics (latest attempt wins); a thin re-export for callers of this module."""
    return read_metrics(run_dir)
