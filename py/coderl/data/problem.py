"""The Problem record: one line of data/raw/<dataset>_raw.jsonl (docs/architecture.md, "Contracts")."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..io_utils import read_jsonl

KINDS = ("functional", "stdio")


@dataclass
class Problem:
    id: str
    dataset: str
    kind: str  # "functional" | "stdio"
    prompt: str  # what the model sees before templating
    source: str = ""  # where it came from (dataset id, split, file)
    entry_point: str | None = None  # functional: the function HumanEval's check() receives
    test_code: str | None = None  # functional: asserts / check() appended after the solution
    tests: list[dict[str, str]] | None = None  # stdio: [{"input": str, "output": str}, ...]
    time_limit_s: float | None = None  # the source's limit, kept as information
    reference_code: str | None = None  # the dataset's own solution, if any
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. MBPP test_list shown in the prompt
    sha256: str | None = None  # of the normalized record without this field

    def __post_init__(self) -> None:
        where = f"problem {self.id!r} ({self.dataset})"
        if not isinstance(self.id, str) or not self.id:
            raise DataError(f"problem record without a non-empty string 'id' in dataset {self.dataset!r}")
        if self.kind not in KINDS:
            raise DataError(f"{where}: kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise DataError(f"{where}: empty 'prompt'")
        if self.kind == "functional" and not (isinstance(self.test_code, str) and self.test_code.strip()):
            raise DataError(f"{where}: functional problems need non-empty 'test_code'")
        if self.kind == "stdio":
            if not isinstance(self.tests, list) or not self.tests:
                raise DataError(f"{where}: stdio problems need a non-empty 'tests' list of {{input, output}}")
            for i, t in enumerate(self.tests):
                if (
                    not isinstance(t, dict)
                    or not isinstance(t.get("input"), str)
                    or not isinstance(t.get("output"), str)
                ):
                    raise DataError(f"{where}: tests[{i}] must be {{'input': str, 'output': str}}")

    def content_hash(self) -> str:
        d = self.to_dict()
        d.pop("sha256", None)
        blob = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def with_hash(self) -> Problem:
        self.sha256 = self.content_hash()
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "") -> Problem:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise DataError(f"{where or 'problem record'}: unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        for key in ("id", "dataset", "kind", "prompt"):
            if key not in d:
                raise DataError(f"{where or 'problem record'}: missing field '{key}'")
        return cls(**d)


def load_problems(path: str | Path) -> list[Problem]:
    """Read a problems JSONL file; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"problems file not found: {path}; build it with: make data")
    out = []
    for i, row in enumerate(read_jsonl(path), start=1):
        out.append(Problem.from_dict(row, where=f"{path}:{i}"))
    return out
