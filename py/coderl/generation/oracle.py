"""A backend that answers with each problem's reference solution: checks the whole path without a model."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .base import Backend, Item
from .records import Generation


class OracleBackend(Backend):
    name = "oracle"

    def __init__(self, cfg=None):
        self.cfg = cfg

    def generate(self, items: Iterable[Item]) -> Iterator[Generation]:
        for problem, _messages in items:
            ref = problem.reference_code
            if not ref or not ref.strip():
                yield Generation.failed(
                    problem.id,
                    problem.dataset,
                    f"oracle: problem {problem.id!r} ({problem.dataset}) has no reference_code; "
                    "the oracle backend can only answer problems with a known solution",
                )
                continue
            yield Generation(
                id=problem.id,
                dataset=problem.dataset,
                completion=f"```python\n{ref.strip(chr(10))}\n```",
                finish_reason="stop",
                truncated=False,
                prompt_tokens=None,
                completion_tokens=None,
                wall_s=0.0,
            )
