"""Well-known locations, relative to the repository root (overridable with CODERL_ROOT)."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    env = os.environ.get("CODERL_ROOT")
    if env:
        return Path(env).resolve()
    # py/coderl/paths.py -> repo root is two levels above the package
    return Path(__file__).resolve().parents[2]


def configs_dir() -> Path:
    return repo_root() / "configs"


def shared_data_dir() -> Path | None:
    """../shared/data beside the checkout, where the offline benchmark files live (may be absent)."""
    env = os.environ.get("CODERL_SHARED_DATA")
    cand = Path(env) if env else repo_root().parent / "shared" / "data"
    return cand if cand.is_dir() else None
