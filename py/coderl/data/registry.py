"""Eval datasets by name: read data/raw/<name>_raw.jsonl and refuse it unless it matches its manifest."""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from ..paths import RAW_DIR, repo_root
from .manifest import load_manifest, records_hash, verify_against_manifest
from .problem import Problem, load_problems

DEFAULT_MANIFESTS_DIR = "data/manifests"


def resolve(path: str | Path) -> Path:
    """Relative paths are relative to the repository root (CODERL_ROOT), not the current directory."""
    p = Path(path)
    return p if p.is_absolute() else repo_root() / p


def raw_path(name: str, raw_dir: str | Path = RAW_DIR) -> Path:
    return resolve(raw_dir) / f"{name}_raw.jsonl"


def load_eval_problems(
    name: str, raw_dir: str | Path = RAW_DIR, manifests_dir: str | Path = DEFAULT_MANIFESTS_DIR
) -> list[Problem]:
    """The problems of eval dataset `name`, verified record by record against its manifest."""
    manifest = load_manifest(name, resolve(manifests_dir))
    path = raw_path(name, raw_dir)
    if not path.is_file():
        raise DataError(
            f"raw data for '{name}' not found: {path}; build it with: coderl data --datasets {name} (make data)"
        )
    problems = load_problems(path)
    wrong = next((p for p in problems if p.dataset != name), None)
    if wrong is not None:
        raise DataError(
            f"{path}: problem {wrong.id!r} belongs to dataset {wrong.dataset!r}, not '{name}'; "
            f"rebuild with: coderl data --datasets {name} --force"
        )
    verify_against_manifest(name, problems, manifest, str(path))
    return problems


def manifest_hash(name: str, manifests_dir: str | Path = DEFAULT_MANIFESTS_DIR) -> str:
    """sha256 of the manifest's ordered (id, sha256) pairs: what goes into the eval fingerprint."""
    return records_hash(load_manifest(name, resolve(manifests_dir))["records"])
