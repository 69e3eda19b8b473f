"""Manifests: the pinned, ordered ids and per-record sha256 of one eval dataset (in git).

An evaluation is comparable to another only if both saw exactly the same records; the manifest is
what makes that checkable. `manifest_hash` covers the ordered (id, sha256) pairs only, so editing
the human-readable `drawn` description does not change eval fingerprints.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..io_utils import atomic_write_json
from .problem import Problem

MANIFEST_VERSION = 1


def manifest_path(name: str, manifests_dir: str | Path) -> Path:
    return Path(manifests_dir) / f"{name}.json"


def build_manifest(name: str, problems: list[Problem], drawn: dict[str, Any]) -> dict[str, Any]:
    """A manifest for `problems` (hashes recomputed here, never trusted from the records)."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "dataset": name,
        "count": len(problems),
        "drawn": drawn,
        "records": [{"id": p.id, "sha256": p.content_hash()} for p in problems],
    }


def write_manifest(manifest: dict[str, Any], manifests_dir: str | Path) -> Path:
    path = manifest_path(manifest["dataset"], manifests_dir)
    atomic_write_json(path, manifest)
    return path


def load_manifest(name: str, manifests_dir: str | Path) -> dict[str, Any]:
    path = manifest_path(name, manifests_dir)
    if not path.is_file():
        raise DataError(
            f"no manifest for dataset '{name}' at {path}: it has not been pinned yet. The first build "
            f"that can reach the source writes it (coderl data --datasets {name}); then commit {path}"
        )
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(
            f"{path}: not valid JSON ({e.msg}, line {e.lineno}); restore it with: git checkout -- {path}"
        ) from None
    recs = m.get("records") if isinstance(m, dict) else None
    if not isinstance(recs, list) or not all(isinstance(r, dict) and "id" in r and "sha256" in r for r in recs):
        raise DataError(f"{path}: expected 'records': [{{id, sha256}}, ...]; restore it with: git checkout -- {path}")
    return m


def records_hash(records: list[dict[str, Any]]) -> str:
    blob = json.dumps([[r["id"], r["sha256"]] for r in records], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def verify_against_manifest(name: str, problems: list[Problem], manifest: dict[str, Any], where: str) -> None:
    """Raise DataError naming the first record that differs from the manifest (order matters)."""
    fix = (
        f"rebuild it with: coderl data --datasets {name} --force (if the source itself changed on purpose, "
        f"add --update-manifest and commit data/manifests/{name}.json)"
    )
    expected = manifest["records"]
    for i, (p, rec) in enumerate(zip(problems, expected)):
        if p.id != rec["id"]:
            raise DataError(
                f"{where}: record {i + 1} has id {p.id!r} but the manifest of '{name}' expects "
                f"{rec['id']!r} there; {fix}"
            )
        actual = p.content_hash()
        if actual != rec["sha256"]:
            raise DataError(
                f"{where}: problem {p.id!r} differs from the manifest of '{name}' (sha256 {actual[:12]}... "
                f"!= {rec['sha256'][:12]}...): its prompt, tests or reference changed; {fix}"
            )
    if len(problems) < len(expected):
        raise DataError(
            f"{where}: {len(problems)} records but the manifest of '{name}' has {len(expected)}; "
            f"first missing id {expected[len(problems)]['id']!r}; {fix}"
        )
    if len(problems) > len(expected):
        raise DataError(
            f"{where}: {len(problems)} records but the manifest of '{name}' has {len(expected)}; "
            f"first extra id {problems[len(expected)].id!r}; {fix}"
        )
