"""The run record beside verl's checkpoints: who launched what, with how many processes, and each attempt.

<run dir>/coderl_run.json   recipe name + fingerprint, world size, total steps, attempts
<run dir>/logs/attempt_NNN.log   the full console output of one launch (never overwritten)
<run dir>/metrics.jsonl     one line per logged step per attempt (verl's own `file` logger reopens
                            its jsonl in write mode on resume, so we keep our own, appended)
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..checkpoints import latest_checkpoint
from ..errors import DataError, TrainingError
from ..io_utils import append_jsonl, atomic_write_json, read_jsonl

RECORD_FILE = "coderl_run.json"
METRICS_FILE = "metrics.jsonl"
LOGS_DIR = "logs"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class RunRecord:
    run_dir: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, run_dir: str | Path) -> RunRecord:
        run_dir = Path(run_dir)
        f = run_dir / RECORD_FILE
        if not f.is_file():
            return cls(run_dir, {"attempts": []})
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DataError(
                f"{f}: not valid JSON ({e}); it is written atomically, so it was edited by hand: "
                f"fix it or delete it (checkpoints are unaffected)"
            ) from None
        data.setdefault("attempts", [])
        return cls(run_dir, data)

    @property
    def attempts(self) -> list[dict]:
        return self.data["attempts"]

    def save(self) -> None:
        atomic_write_json(self.run_dir / RECORD_FILE, self.data)

    def next_log_path(self, node_rank: int = 0) -> tuple[int, Path]:
        """(attempt number, a log path that does not exist yet)."""
        n = len(self.attempts) + 1
        logs = self.run_dir / LOGS_DIR
        suffix = "" if node_rank == 0 else f"_node{node_rank}"
        while (logs / f"attempt_{n:03d}{suffix}.log").exists():
            n += 1
        return n, logs / f"attempt_{n:03d}{suffix}.log"

    def start_attempt(self, n: int, log_path: Path, start_step: int, cmd: list[str], **info: Any) -> dict:
        att = {
            "attempt": n,
            "started": now_iso(),
            "host": socket.gethostname(),
            "log": str(log_path),
            "start_step": start_step,
            "command": cmd,
            "status": "running",
            **info,
        }
        self.attempts.append(att)
        self.save()
        return att

    def end_attempt(self, att: dict, **info: Any) -> None:
        att.update(ended=now_iso(), **info)
        self.save()


def check_resumable(run_dir: Path, world_size: int, total_steps: int, resume: str) -> int:
    """The step this launch starts from; refuse launches verl would get wrong.

    - a finished run (its last checkpoint is the last step): verl would train one extra step;
    - checkpoints written by a different number of processes: verl 0.9.1 cannot reshard them;
    - resume disabled over existing checkpoints: the new run would mix with the old one's files.
    """
    ck = latest_checkpoint(run_dir)
    if ck is None:
        return 0
    if resume == "disable":
        raise TrainingError(
            f"{run_dir} already holds checkpoints (latest step {ck.step}) and checkpoint.resume is "
            f"'disable': a new run would overwrite and mix with them. Use another checkpoint.dir "
            f"(RUN_DIR=...), or move the old run away, or set resume: auto to continue it"
        )
    if ck.step >= total_steps:
        raise TrainingError(
            f"{run_dir}: the run already finished (checkpoint at step {ck.step}, last step "
            f"{total_steps}); relaunching would make verl train an extra step. Evaluate it "
            f"(make eval-all) or start a new run in another directory"
        )
    written_by = ck.world_size()
    if written_by is not None and written_by != world_size:
        raise TrainingError(
            f"{run_dir}: checkpoint step {ck.step} was written by {written_by} processes, this launch "
            f"has {world_size}; verl 0.9.1 cannot resume sharded FSDP state with a different "
            f"number of processes. Relaunch with GPUS={written_by} (x NNODES) to continue, or "
            f"start a new run in another directory"
        )
    return ck.step


def append_metrics(run_dir: Path, attempt: int, step: int, metrics: dict[str, float]) -> None:
    append_jsonl(run_dir / METRICS_FILE, {"attempt": attempt, "step": step, "time": now_iso(), **metrics})


def read_metrics(run_dir: str | Path) -> dict[int, dict]:
    """step -> metrics of the latest attempt that logged it (a resumed attempt supersedes earlier lines)."""
    f = Path(run_dir) / METRICS_FILE
    if not f.is_file():
        return {}
    out: dict[int, dict] = {}
    for row in read_jsonl(f, tolerate_torn_tail=True):
        step = int(row["step"])
        prev = out.get(step)
        if prev is None or row.get("attempt", 0) >= prev.get("attempt", 0):
            # val/loss arrives on its own line for the same step: merge lines of one attempt
            out[step] = {**prev, **row} if prev and prev.get("attempt") == row.get("attempt") else dict(row)
    return dict(sorted(out.items()))


def require_run_dir(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise TrainingError(f"run directory {run_dir} exists and is not a directory")
