"""Reading committed raw results (docs/bench_*/, docs/results/, docs/gpu_path/) for the figures; a missing file or key is a clear error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError


def _load(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"raw result {path} is missing: restore it from git, or re-run its benchmark "
            "(make bench-*) and point the figure at the new file"
        ) from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"raw result {path} is not valid JSON ({e}); restore it from git") from None


class Raw:
    """The raw results under one checkout's docs/ folder."""

    def __init__(self, docs: Path):
        self.docs = docs
        self._files: dict[str, dict[str, Any]] = {}  # read once per regeneration

    def file(self, rel: str) -> dict[str, Any]:
        if rel not in self._files:
            self._files[rel] = _load(self.docs / rel)
        return self._files[rel]

    def result(self, rel: str, recipe: str) -> dict[str, Any]:
        """One recipe's summary in a bench-train file (its `results` list)."""
        found = [r for r in self.file(rel).get("results", []) if r.get("recipe") == recipe]
        if not found:
            have = [r.get("recipe") for r in self.file(rel).get("results", [])]
            raise ConfigError(f"docs/{rel} has no result for recipe {recipe!r} (it has {have}); fix the figure's row")
        return found[0]

    def key(self, rel: str, *path: str | int) -> Any:
        node: Any = self.file(rel)
        for i, k in enumerate(path):
            try:
                node = node[k]
            except (KeyError, IndexError, TypeError):
                where = ".".join(map(str, path[: i + 1]))
                raise ConfigError(f"docs/{rel} has no key {where}; fix the figure or the raw file") from None
        return node
