"""prepare_rl: verified problems -> verl RL parquet (what `make prepare-rl` writes).

The checks code-RL systems that work apply to their data (DeepCoder, Skywork-OR1: a problem whose
reference fails its own tests, or with fewer than 5 tests, teaches noise or is trivially hacked):

  malformed row        fatal: named by line (file) or row (hub); nothing is silently lost
  duplicate id         fatal
  too_few_tests        dropped (< min_tests tests)
  no_reference         dropped (nothing proves the tests are solvable)
  file_io              dropped (the stdio judge cannot serve input_file/output_file problems)
  contaminated         dropped: n-gram overlap with any eval set, prepare-sft's rules (coderl.data.decontam)
  prompt_too_long      dropped (verl would filter it silently with filter_overlong_prompts)
  reference_failed     dropped: the reference does not pass its own tests in our sandbox, same limits
                       and comparator as evaluation; a sandbox failure aborts (never drops data)

Output (verl 0.9.1 RLHFDataset + its reward managers):
  rl_train.parquet, rl_val.parquet   data_source, prompt (the eval chat messages), ability,
                                     reward_model {style: rule, ground_truth}, extra_info {index, id, split}
  split_mapping.json                 id -> split, seed, input sha256, dropped ids and why
  rl_report.json                     every check's findings (also written when the data is refused)
ground_truth is coderl.reward's format (coderl.problem/1: the Problem without its reference
solution, docs/judging.md), so the reward judges each answer exactly as `make eval` does.
The split orders ids by sha256("<seed>:<id>"): the same problems land in the same split whatever
the input order. Same input + options = byte-identical files.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..data.decontam import EvalIndex, load_eval_sets
from ..data.prepare_report import RefusableReport
from ..data.problem import Problem
from ..data.sandbox_check import judge_or_abort
from ..data.sft_rows import Issue
from ..io_utils import atomic_write_json, atomic_write_parquet
from ..paths import RAW_DIR
from ..reward.ground_truth import to_ground_truth
from .sources import Item

log = logging.getLogger(__name__)

DATA_SOURCE = "coderl"  # verl's reward managers pass this to compute_score as data_source
ABILITY = "code"


@dataclass
class RLReport(RefusableReport):
    input: str
    input_sha256: str
    seed: int
    val_size: int
    min_tests: int
    max_prompt_length: int
    input_rows: int = 0
    issues: list[Issue] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)  # id -> reason
    contamination: dict[str, dict[str, Any]] = field(default_factory=dict)  # eval set -> {checked, rows, ...}
    validation: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    fatal: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def drop(self, p: Problem, line: int, check: str, message: str) -> None:
        self.dropped.setdefault(p.id, check if not message else f"{check}: {message}")
        self.issues.append(Issue(check, line, p.id, message))

    def summary(self, max_issues: int = 20) -> str:
        lines = [f"{self.input}: {self.input_rows} rows, " + ", ".join(f"{k} {v}" for k, v in self.counts.items())]
        by_check: dict[str, int] = {}
        for reason in self.dropped.values():
            by_check[reason.split(":")[0]] = by_check.get(reason.split(":")[0], 0) + 1
        if by_check:
            lines.append("  dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(by_check.items())))
        for name, c in self.contamination.items():
            lines.append(
                f"  decontamination vs {name}: "
                + (f"{len(c['rows'])} problem(s) overlap" if c["checked"] else f"NOT CHECKED ({c['reason']})")
            )
        for i in self.issues[:max_issues]:
            lines.append(f"  {i}")
        if len(self.issues) > max_issues:
            lines.append(f"  ... {len(self.issues) - max_issues} more in rl_report.json")
        for f in self.fatal:
            lines.append(f"REFUSED: {f}")
        return "\n".join(lines)


def split_order(ids: Iterable[str], seed: int) -> list[str]:
    return sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())


def prompt_lengths(messages: list[list[dict]], tokenizer) -> list[int]:
    """Prompt tokens as verl's RLHFDataset counts them: chat template with the generation prompt."""
    texts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in messages]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]] if texts else []


def check_references(problems: list[Problem], sandbox: str, cfg) -> dict[str, str]:
    """id -> why its reference failed its own tests (judged like evaluation). A sandbox failure raises."""
    verdicts = judge_or_abort(
        [(f"judging the reference of {p.id}", p, p.reference_code) for p in problems],
        sandbox,
        cfg,
        "to check references",
    )
    return {
        p.id: f"{v.verdict} on test {v.first_failed_test} ({v.tests_passed}/{v.tests_total} passed)"
        for p, v in zip(problems, verdicts)
        if not v.accepted
    }


def verl_row(p: Problem, messages: list[dict], index: int, split: str) -> dict[str, Any]:
    return {
        "data_source": DATA_SOURCE,
        "prompt": messages,
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": to_ground_truth(p)},
        "extra_info": {"index": index, "id": p.id, "split": split, "dataset": p.dataset},
    }


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa

    schema = pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ("ability", pa.string()),
            ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
            (
                "extra_info",
                pa.struct(
                    [("index", pa.int64()), ("id", pa.string()), ("split", pa.string()), ("dataset", pa.string())]
                ),
            ),
        ]
    )
    table = pa.Table.from_pylist(rows, schema=schema)
    atomic_write_parquet(path, table)


def prepare_rl(
    items: Iterable[Item],
    out_dir: str | Path,
    *,
    input_name: str,
    input_sha256: str,
    val_size: int = 64,
    seed: int = 0,
    min_tests: int = 5,
    max_prompt_length: int = 2048,
    tokenizer=None,
    decontaminate: bool = True,
    eval_sets: list[str] | None = None,
    ngram: int = 13,
    min_overlap: float = 0.5,
    raw_dir: str | Path = RAW_DIR,
    manifests_dir: str | Path = "data/manifests",
    validate: bool = True,
    sandbox: str = "local",
    cfg=None,
) -> RLReport:
    """Check, filter and split problems into out_dir; return the report or raise DataError(.report)."""
    from ..config import load_eval_config
    from ..generation.prompts import build_messages

    cfg = cfg or load_eval_config()
    out_dir = Path(out_dir)
    report = RLReport(
        input=input_name,
        input_sha256=input_sha256,
        seed=seed,
        val_size=val_size,
        min_tests=min_tests,
        max_prompt_length=max_prompt_length,
    )
    problems: list[tuple[int, Problem]] = []
    seen: dict[str, int] = {}
    for line, p, issue in items:
        report.input_rows += 1
        if issue is not None:
            report.issues.append(issue)
            continue
        if p.id in seen:
            report.issues.append(Issue("duplicate_id", line, p.id, f"same id as line {seen[p.id]}"))
            continue
        seen[p.id] = line
        problems.append((line, p))
    for check in ("malformed", "duplicate_id"):
        n = sum(1 for i in report.issues if i.check == check)
        if n:
            report.fatal.append(f"{n} row(s) {check.replace('_', ' ')}: fix the input (see the lines listed)")
    if report.fatal:
        _refuse(report, out_dir)

    for line, p in problems:
        n_tests = len(p.tests or []) if p.kind == "stdio" else None
        if p.meta.get("file_io"):
            report.drop(p, line, "file_io", "reads/writes files instead of stdin/stdout")
        elif n_tests is not None and n_tests < min_tests:
            report.drop(p, line, "too_few_tests", f"{n_tests} test(s) < {min_tests}")
        elif not p.reference_code:
            report.drop(p, line, "no_reference", "no reference solution to prove the tests solvable")

    if decontaminate:
        eval_problems = load_eval_sets(eval_sets, raw_dir, manifests_dir, report.contamination, cfg)
        if eval_problems:
            index = EvalIndex(eval_problems, ngram)
            for line, p in problems:
                for h in index.hits(p.id, p.prompt, min_overlap):
                    report.contamination[h.dataset]["rows"].append(asdict(h))
                    report.drop(p, line, "contaminated", f"{h.overlap:.0%} of {h.dataset} problem {h.problem_id!r}")
        if not any(c["checked"] for c in report.contamination.values()):
            report.fatal.append(
                "no eval set could be checked for contamination (see the lines above): build them "
                "with `make data`, or pass --no-decontaminate to go on knowingly"
            )
            _refuse(report, out_dir)
    else:
        report.contamination["*"] = {"checked": False, "reason": "--no-decontaminate", "rows": []}

    kept = [(line, p) for line, p in problems if p.id not in report.dropped]
    messages = {p.id: build_messages(p, cfg) for _, p in kept}
    if tokenizer is None:
        from ..models.tokenizer import load_qwen_tokenizer

        tokenizer = load_qwen_tokenizer()
    for (line, p), n in zip(kept, prompt_lengths([messages[p.id] for _, p in kept], tokenizer)):
        if n > max_prompt_length:
            report.drop(p, line, "prompt_too_long", f"{n} prompt tokens > max_prompt_length {max_prompt_length}")

    kept = [(line, p) for line, p in kept if p.id not in report.dropped]
    if validate:
        failed = check_references([p for _, p in kept], sandbox, cfg)
        report.validation = {"checked": len(kept), "failed": len(failed), "sandbox": sandbox}
        for line, p in kept:
            if p.id in failed:
                report.drop(p, line, "reference_failed", failed[p.id])
        kept = [(line, p) for line, p in kept if p.id not in failed]
    else:
        report.validation = {"checked": 0, "skipped": "--no-validate"}

    if val_size < 0 or val_size >= len(kept):
        report.fatal.append(f"--val-size {val_size} leaves no training problems out of {len(kept)} usable ones")
        _refuse(report, out_dir)
    val_ids = set(split_order([p.id for _, p in kept], seed)[:val_size])
    train = [p for _, p in kept if p.id not in val_ids]  # input order kept within each split
    val = [p for _, p in kept if p.id in val_ids]
    report.counts = {"problems": len(problems), "dropped": len(report.dropped), "train": len(train), "val": len(val)}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_parquet(out_dir / "rl_train.parquet", [verl_row(p, messages[p.id], k, "train") for k, p in enumerate(train)])
    write_parquet(out_dir / "rl_val.parquet", [verl_row(p, messages[p.id], k, "val") for k, p in enumerate(val)])
    atomic_write_json(
        out_dir / "split_mapping.json",
        {
            "input": input_name,
            "input_sha256": input_sha256,
            "seed": seed,
            "val_size": val_size,
            "min_tests": min_tests,
            "max_prompt_length": max_prompt_length,
            "counts": report.counts,
            "splits": {p.id: "train" for p in train} | {p.id: "val" for p in val},
            "dropped": report.dropped,
        },
    )
    report.files = ["rl_train.parquet", "rl_val.parquet", "split_mapping.json", "rl_report.json"]
    atomic_write_json(out_dir / "rl_report.json", report.to_dict())
    return report


def _refuse(report: RLReport, out_dir: Path):
    atomic_write_json(Path(out_dir) / "rl_report.json", report.to_dict())
    report.refuse()
