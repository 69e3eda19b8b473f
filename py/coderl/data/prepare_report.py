"""What the prepare-sft and prepare-rl reports (SFTReport, RLReport) have in common."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..errors import DataError


class RefusableReport:
    """Mixin for a report dataclass with a `fatal` list (why the data was refused) and a summary()."""

    fatal: list[str]

    @property
    def ok(self) -> bool:
        return not self.fatal

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d

    def refuse(self):
        """Raise DataError carrying this report (.report): the CLI prints it and exits 1."""
        err = DataError(self.summary())
        err.report = self
        raise err
