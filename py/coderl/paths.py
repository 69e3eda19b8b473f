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


# Where `coderl data` writes the eval datasets (<name>_raw.jsonl); relative paths are read against the
# repository root (data/registry.resolve). The one spelling of this path in the code.
RAW_DIR = "data/raw"


def configs_dir() -> Path:
    return repo_root() / "configs"


def shared_data_dir() -> Path | None:
    """The folder of offline benchmark files named by CODERL_SHARED_DATA (README, "Offline data"), else None.

    The one offline-data option: nothing outside the checkout is looked at unless it is named here.
    """
    env = os.environ.get("CODERL_SHARED_DATA")
    return Path(env) if env and Path(env).is_dir() else None
