"""prepare_sft: check SFT data, split it deterministically, write verl's parquet files.

Output (verl 0.9.1 MultiTurnSFTDataset reads `messages`: a list of {role, content}):
  sft_train.parquet, sft_val.parquet  columns id (string), messages (list<struct<role, content>>)
  split_mapping.json                  id -> split, input sha256, seed, counts, dropped rows and why
  sft_report.json                     every check's findings (also written when the data is refused)
Same input + same options = byte-identical outputs (no timestamps, fixed parquet options).
Unusable data raises DataError (with .report) and writes no train/val files.
"""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..io_utils import atomic_write_json, atomic_write_parquet
from ..paths import RAW_DIR
from .decontam import EvalIndex, load_eval_sets
from .dedup import exact_duplicates, near_duplicates
from .prepare_report import RefusableReport
from .sft_rows import Issue, SFTRow, parse_rows

log = logging.getLogger(__name__)

FATAL_ALWAYS = ("malformed_json", "bad_row", "duplicate_id")


@dataclass
class SFTReport(RefusableReport):
    input: str
    input_sha256: str
    seed: int
    val_size: int
    max_length: int
    input_rows: int = 0
    issues: list[Issue] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)  # id -> reason
    contamination: dict[str, dict[str, Any]] = field(default_factory=dict)  # eval set -> {checked, rows, ...}
    validation: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    fatal: list[str] = field(default_factory=list)  # why the data was refused
    files: list[str] = field(default_factory=list)

    def summary(self, max_issues: int = 20) -> str:
        lines = [f"{self.input}: {self.input_rows} rows, " + ", ".join(f"{k} {v}" for k, v in self.counts.items())]
        for name, c in self.contamination.items():
            lines.append(
                f"  decontamination vs {name}: "
                + (f"{len(c['rows'])} row(s) overlap" if c["checked"] else f"not checked ({c['reason']})")
            )
        for i in self.issues[:max_issues]:
            lines.append(f"  {i}")
        if len(self.issues) > max_issues:
            lines.append(f"  ... {len(self.issues) - max_issues} more in sft_report.json")
        for f in self.fatal:
            lines.append(f"REFUSED: {f}")
        return "\n".join(lines)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def templated_lengths(rows: list[SFTRow], tokenizer) -> list[int]:
    """Token count of each whole conversation after the chat template (what verl trains on)."""
    texts = [tokenizer.apply_chat_template(r.messages, tokenize=False) for r in rows]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]]


def write_parquet(path: Path, rows: list[SFTRow]) -> None:
    import pyarrow as pa

    msg_type = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    table = pa.table(
        {"id": pa.array([r.id for r in rows], pa.string()), "messages": pa.array([r.messages for r in rows], msg_type)}
    )
    atomic_write_parquet(path, table)


def prepare_sft(
    input_path: str | Path,
    out_dir: str | Path,
    val_size: int = 200,
    seed: int = 0,
    max_length: int = 4096,
    *,
    tokenizer=None,
    near_dup_threshold: float = 0.9,
    drop_duplicates: bool = False,
    drop_too_long: bool = False,
    decontaminate: bool = True,
    drop_contaminated: bool = False,
    allow_contaminated: bool = False,
    eval_sets: list[str] | None = None,
    ngram: int = 13,
    min_overlap: float = 0.5,
    raw_dir: str | Path = RAW_DIR,
    manifests_dir: str | Path = "data/manifests",
    validate: bool = False,
    sandbox: str = "local",
) -> SFTReport:
    """Check, filter and split `input_path` into out_dir; return the report or raise DataError(.report)."""
    input_path, out_dir = Path(input_path), Path(out_dir)
    if not input_path.is_file():
        raise DataError(f"SFT input not found: {input_path}; pass --input FILE.jsonl")
    report = SFTReport(
        input=input_path.name, input_sha256=_sha256(input_path), seed=seed, val_size=val_size, max_length=max_length
    )
    rows, issues = parse_rows(input_path)
    report.input_rows = len(rows) + sum(1 for i in issues if i.check in FATAL_ALWAYS)
    report.issues += issues
    report.counts = {"usable": len(rows), "unparsable": report.input_rows - len(rows)}
    for check in FATAL_ALWAYS:
        n = sum(1 for i in issues if i.check == check)
        if n:
            report.fatal.append(f"{n} row(s) with {check.replace('_', ' ')}: fix the input (see the lines listed)")

    # duplicates: the first occurrence is kept, later ones are reported (and dropped on request)
    exact = exact_duplicates([r.content_key() for r in rows])
    near = near_duplicates([r.text() for r in rows], near_dup_threshold, skip=set(exact))
    for j, i in sorted(exact.items()):
        report.issues.append(
            Issue(
                "exact_duplicate",
                rows[j].line,
                rows[j].id,
                f"same conversation as line {rows[i].line} (id {rows[i].id})",
            )
        )
    for j, (i, jac) in sorted(near.items()):
        report.issues.append(
            Issue(
                "near_duplicate",
                rows[j].line,
                rows[j].id,
                f"{jac:.0%} word 5-gram overlap with line {rows[i].line} (id {rows[i].id})",
            )
        )
    dup_idx = set(exact) | set(near)
    if dup_idx:
        if drop_duplicates:
            for j in sorted(dup_idx):
                report.dropped[rows[j].id] = "exact_duplicate" if j in exact else "near_duplicate"
        else:
            report.fatal.append(
                f"{len(exact)} exact and {len(near)} near duplicate row(s): remove them or pass --drop-duplicates"
            )

    # length in the model's tokenizer, chat template applied
    if tokenizer is None:
        from ..models.tokenizer import load_qwen_tokenizer

        tokenizer = load_qwen_tokenizer()
    long_rows = [(r, n) for r, n in zip(rows, templated_lengths(rows, tokenizer)) if n > max_length] if rows else []
    for r, n in long_rows:
        report.issues.append(
            Issue("too_long", r.line, r.id, f"{n} tokens with the chat template > max_length {max_length}")
        )
        if drop_too_long:
            report.dropped.setdefault(r.id, "too_long")
    if long_rows and not drop_too_long:
        report.fatal.append(
            f"{len(long_rows)} row(s) longer than {max_length} tokens: shorten them, raise --max-length, "
            f"or pass --drop-too-long (verl refuses them with truncation=error)"
        )

    # overlap with the eval sets
    if decontaminate:
        problems = load_eval_sets(eval_sets, raw_dir, manifests_dir, report.contamination)
        if problems:
            index = EvalIndex(problems, ngram)
            for r in rows:
                for h in index.hits(r.id, r.text(), min_overlap):
                    report.contamination[h.dataset]["rows"].append(asdict(h))
                    report.issues.append(
                        Issue(
                            "contaminated",
                            r.line,
                            r.id,
                            f"{h.overlap:.0%} of {h.dataset} problem {h.problem_id!r} ({ngram}-grams)",
                        )
                    )
                    if drop_contaminated:
                        report.dropped.setdefault(r.id, f"contaminated:{h.dataset}:{h.problem_id}")
        n_cont = len({h["row_id"] for c in report.contamination.values() for h in c["rows"]})
        if n_cont and not (drop_contaminated or allow_contaminated):
            report.fatal.append(
                f"{n_cont} row(s) overlap eval problems: pass --drop-contaminated (or --allow-contaminated "
                f"to keep them knowingly)"
            )

    if report.fatal:
        _finish(report, out_dir)
        report.refuse()

    kept = [r for r in rows if r.id not in report.dropped]
    if validate:
        from .sft_validate import validate_rows

        failed = validate_rows(kept, sandbox)
        with_tests = sum(1 for r in kept if r.tests)
        report.validation = {
            "rows_with_tests": with_tests,
            "failed": len(failed),
            "rows_without_tests": len(kept) - with_tests,
        }
        for rid, why in failed.items():
            report.dropped[rid] = f"failed_validation: {why}"
            row = next(r for r in kept if r.id == rid)
            report.issues.append(Issue("failed_validation", row.line, rid, why))
        kept = [r for r in kept if r.id not in failed]

    if val_size < 0 or val_size >= len(kept):
        report.fatal.append(f"--val-size {val_size} leaves no training rows out of {len(kept)} usable rows")
        _finish(report, out_dir)
        report.refuse()
    order = list(range(len(kept)))
    random.Random(seed).shuffle(order)
    val_idx = set(order[:val_size])
    train = [r for k, r in enumerate(kept) if k not in val_idx]  # input order kept within each split
    val = [r for k, r in enumerate(kept) if k in val_idx]
    report.counts = {**report.counts, "dropped": len(report.dropped), "train": len(train), "val": len(val)}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_parquet(out_dir / "sft_train.parquet", train)
    write_parquet(out_dir / "sft_val.parquet", val)
    atomic_write_json(
        out_dir / "split_mapping.json",
        {
            "input": input_path.name,
            "input_sha256": report.input_sha256,
            "seed": seed,
            "val_size": val_size,
            "max_length": max_length,
            "counts": report.counts,
            "splits": {r.id: "train" for r in train} | {r.id: "val" for r in val},
            "dropped": report.dropped,
        },
    )
    report.files = ["sft_train.parquet", "sft_val.parquet", "split_mapping.json", "sft_report.json"]
    _finish(report, out_dir)
    return report


def _finish(report: SFTReport, out_dir: Path) -> None:
    atomic_write_json(out_dir / "sft_report.json", report.to_dict())
