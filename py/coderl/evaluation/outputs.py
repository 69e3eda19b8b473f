"""The output folder of one evaluation and its resumable caches.

outputs/<phase>/
  eval_history.jsonl            one line per finished evaluation (history.py)
  best_checkpoint.json          selection.py, after every evaluation
  step_<N>/                     a full evaluation (step_<N>_limit<K>/: a --limit K quick check, kept apart)
    metrics.json summary.json eval_info.json run_info.json
    per_problem/<dataset>.jsonl  the final per-problem records, in manifest order
    qa_logs/<dataset>.md         a sample of prompt / answer / verdict per dataset
    cache/generations/<dataset>.jsonl   append-only, one line per completed generation
    cache/records/<dataset>.jsonl       append-only, one line per judged problem

Cache lines carry (checkpoint_id, dataset, id, fingerprint); a run reads back only lines that
match its own key, so a changed config or checkpoint never reuses stale answers. Lines are
appended whole under a lock (io_utils.append_jsonl); a torn tail from kill -9 is dropped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io_utils import append_jsonl, atomic_write_jsonl, atomic_write_text, read_jsonl

QA_PER_VERDICT = 3  # qa_logs keeps up to this many examples of each verdict per dataset


@dataclass(frozen=True)
class StepOutputs:
    dir: Path

    @classmethod
    def for_step(cls, out_root: str | Path, phase: str, step: int, limit: int | None = None) -> StepOutputs:
        """step_<N>/ for a full evaluation; step_<N>_limit<K>/ for a --limit K run, so a quick check
        never replaces a full run's files."""
        name = f"step_{int(step)}" + (f"_limit{int(limit)}" if limit else "")
        return cls(Path(out_root) / phase / name)

    @property
    def phase_dir(self) -> Path:
        return self.dir.parent

    metrics_json = property(lambda self: self.dir / "metrics.json")
    summary_json = property(lambda self: self.dir / "summary.json")
    eval_info_json = property(lambda self: self.dir / "eval_info.json")
    run_info_json = property(lambda self: self.dir / "run_info.json")
    qa_dir = property(lambda self: self.dir / "qa_logs")

    def per_problem(self, dataset: str) -> Path:
        return self.dir / "per_problem" / f"{dataset}.jsonl"

    def generation_cache(self, dataset: str) -> Path:
        return self.dir / "cache" / "generations" / f"{dataset}.jsonl"

    def record_cache(self, dataset: str) -> Path:
        return self.dir / "cache" / "records" / f"{dataset}.jsonl"


def checkpoint_id(model: str) -> str:
    """Identity of the weights: a hub id as is; a folder by path + names, sizes and mtimes of its files."""
    p = Path(model)
    if not p.is_dir():
        return model
    sig = [(f.name, f.stat().st_size, int(f.stat().st_mtime)) for f in sorted(p.iterdir()) if f.is_file()]
    digest = hashlib.sha256(json.dumps(sig).encode()).hexdigest()[:12]
    return f"{p.resolve()}@{digest}"


def prompt_sha256(messages: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class DatasetCache:
    """Generations and judged records of one dataset for one (checkpoint_id, fingerprint)."""

    def __init__(self, out: StepOutputs, dataset: str, ckpt_id: str, fingerprint: str):
        self.out, self.dataset = out, dataset
        self.key = {"checkpoint_id": ckpt_id, "dataset": dataset, "fingerprint": fingerprint}

    def _load(self, path: Path, field: str) -> dict[str, dict[str, Any]]:
        if not path.is_file():
            return {}
        found: dict[str, dict[str, Any]] = {}
        for row in read_jsonl(path, tolerate_torn_tail=True):
            if all(row.get(k) == v for k, v in self.key.items()) and isinstance(row.get(field), dict):
                found[row["id"]] = row[field]  # a later line for the same id wins
        return found

    def generations(self) -> dict[str, dict[str, Any]]:
        return self._load(self.out.generation_cache(self.dataset), "generation")

    def records(self) -> dict[str, dict[str, Any]]:
        return self._load(self.out.record_cache(self.dataset), "record")

    def add_generation(self, pid: str, generation: dict[str, Any]) -> None:
        append_jsonl(self.out.generation_cache(self.dataset), {**self.key, "id": pid, "generation": generation})

    def add_record(self, pid: str, record: dict[str, Any]) -> None:
        append_jsonl(self.out.record_cache(self.dataset), {**self.key, "id": pid, "record": record})


def write_per_problem(out: StepOutputs, dataset: str, records: list[dict[str, Any]]) -> Path:
    path = out.per_problem(dataset)
    atomic_write_jsonl(path, records)
    return path


def _fenced(text: str) -> str:
    """A markdown code block that the text's own ``` fences cannot close."""
    import re

    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}text\n{text}\n{fence}\n"


def write_qa_log(out: StepOutputs, dataset: str, records: list[dict[str, Any]], prompts: dict[str, str]) -> Path:
    """A readable sample: up to QA_PER_VERDICT problems of each verdict, in dataset order."""
    taken: dict[str, int] = {}
    parts = [f"# {dataset}: sample of prompts, answers and verdicts\n"]
    for r in records:
        v = r.get("verdict", "?")
        if taken.get(v, 0) >= QA_PER_VERDICT:
            continue
        taken[v] = taken.get(v, 0) + 1
        parts.append(
            f"## {r['id']} — {v} ({r.get('tests_passed')}/{r.get('tests_total')} tests"
            f"{', truncated' if r.get('truncated') else ''})\n"
        )
        parts.append("### prompt\n\n" + _fenced(prompts.get(r["id"], "")))
        parts.append("### answer\n\n" + _fenced(r.get("completion") or ""))
        if r.get("detail"):
            parts.append("### judge\n\n" + _fenced(r["detail"]))
    path = out.qa_dir / f"{dataset}.md"
    atomic_write_text(path, "\n".join(parts))
    return path
