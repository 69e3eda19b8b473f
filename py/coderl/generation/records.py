"""The Generation record: one model answer (or one failure to get it) for one problem."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import DataError


@dataclass
class Generation:
    id: str
    dataset: str
    completion: str  # the raw answer text ("" with an error or prompt_too_long, or when the server sent none)
    finish_reason: str | None  # "stop" | "length" | ... as the backend reported it; None on error
    truncated: bool  # finish_reason == "length": cut by max_new_tokens
    prompt_tokens: int | None
    completion_tokens: int | None
    wall_s: float
    error: str | None = None  # a transport/server/backend failure: never scored as the model's answer
    detail: str | None = None  # why, for finish_reason "prompt_too_long" (the server's refusal)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "generation record") -> Generation:
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(names))
        missing = [n for n in names if n not in d and n not in ("error", "detail")]
        if unknown or missing:
            raise DataError(
                f"{where}: "
                + "; ".join(
                    ([f"unknown field(s) {unknown}"] if unknown else [])
                    + ([f"missing field(s) {missing}"] if missing else [])
                )
                + f"; expected fields: {names}"
            )
        return cls(**{n: d.get(n) for n in names})

    @classmethod
    def failed(cls, id: str, dataset: str, error: str, wall_s: float = 0.0) -> Generation:
        return cls(
            id=id,
            dataset=dataset,
            completion="",
            finish_reason=None,
            truncated=False,
            prompt_tokens=None,
            completion_tokens=None,
            wall_s=wall_s,
            error=error,
        )
