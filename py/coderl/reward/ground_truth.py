"""The `ground_truth` string an RL row carries: the problem the judge needs, as JSON.

verl hands each row's `reward_model.ground_truth` to the reward function unchanged. prepare-rl
writes `to_ground_truth(problem)`; the reward reads it back with `parse_ground_truth`. Format
(docs/judging.md, "RL reward"):

    {"format": "coderl.problem/1", "id": ..., "dataset": ..., "kind": "stdio" | "functional",
     "prompt": ..., "tests": [{"input", "output"}, ...]            # stdio
     "entry_point": ..., "test_code": ...,                          # functional
     "time_limit_s": <the source's limit, information only>, "meta": {...}}

These are the Problem fields the judge and the answer extraction read (the prompt is needed for
functional problems: body-only answers are completed from the prompt's stub, as in evaluation).
The reference solution is left out: the reward never runs it.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from ..data.problem import Problem
from ..errors import DataError

FORMAT = "coderl.problem/1"
_FIELDS = ("id", "dataset", "kind", "prompt", "source", "entry_point", "test_code", "tests", "time_limit_s", "meta")


def to_ground_truth(problem: Problem) -> str:
    """The JSON string prepare-rl writes into `reward_model.ground_truth` for this problem."""
    d = problem.to_dict()
    out: dict[str, Any] = {"format": FORMAT}
    out.update({k: d[k] for k in _FIELDS if d.get(k) not in (None, {}, "")})
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def parse_ground_truth(ground_truth: Any, data_source: str = "") -> Problem:
    """The Problem in a ground_truth value (a JSON string, or the dict it decodes to).

    Raises DataError saying what is wrong and where: this is a data preparation bug, and training
    on it would feed rewards for the wrong problem.
    """
    if isinstance(ground_truth, dict):
        return _from_dict(ground_truth, data_source)
    if isinstance(ground_truth, bytes):
        ground_truth = ground_truth.decode("utf-8")
    if not isinstance(ground_truth, str):
        raise DataError(
            f"reward ground_truth ({_where(data_source)}) must be a JSON string in format {FORMAT!r} "
            f"(written by coderl.reward.to_ground_truth), got {type(ground_truth).__name__}"
        )
    return _parse_cached(ground_truth, data_source)


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str, data_source: str) -> Problem:
    # A GRPO group scores n answers to one problem: parse its (possibly MB-sized) tests once.
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(
            f"reward ground_truth ({_where(data_source)}) is not valid JSON ({e}); it starts with "
            f"{text[:80]!r}; rebuild the RL data with coderl.reward.to_ground_truth"
        ) from None
    if not isinstance(d, dict):
        raise DataError(f"reward ground_truth ({_where(data_source)}) must be a JSON object, got {type(d).__name__}")
    return _from_dict(d, data_source)


def _from_dict(d: dict, data_source: str) -> Problem:
    fmt = d.get("format")
    if fmt != FORMAT:
        raise DataError(
            f"reward ground_truth ({_where(data_source)}, id {d.get('id')!r}) has format {fmt!r}, "
            f"expected {FORMAT!r}; rebuild the RL data with coderl.reward.to_ground_truth"
        )
    body = {k: v for k, v in d.items() if k != "format"}
    try:
        return Problem.from_dict(body, where=f"reward ground_truth ({_where(data_source)})")
    except DataError as e:
        if "reward ground_truth" in str(e):
            raise
        raise DataError(
            f"reward ground_truth ({_where(data_source)}): {e}; rebuild the RL data with coderl.reward.to_ground_truth"
        ) from None


def _where(data_source: str) -> str:
    return f"data_source {data_source!r}" if data_source else "no data_source"
