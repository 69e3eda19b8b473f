"""Regenerate (or --check) the generated figures of the docs from the committed raw results."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from ..errors import CoderlError
from ..paths import repo_root
from . import markers, registry
from .raw import Raw


def regenerate(root: Path) -> dict[str, tuple[str, str]]:
    """doc path -> (text on disk, text with every span regenerated)."""
    raw = Raw(root / "docs")
    out = {}
    for rel in registry.DOCS:
        path = root / rel
        text = path.read_text()
        out[rel] = (text, markers.fill(text, lambda name: registry.render(name, raw), rel))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m coderl.docs_figures", description=__doc__)
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when a doc differs from its raw results")
    p.add_argument("--root", type=Path, default=None, help="checkout to work on (default: this one)")
    args = p.parse_args(argv)
    root = args.root or repo_root()
    try:
        docs = regenerate(root)
    except CoderlError as e:
        print(f"docs-figures: error: {e}", file=sys.stderr)
        return e.exit_code
    stale = [rel for rel, (old, new) in docs.items() if old != new]
    if args.check:
        for rel in stale:
            old, new = docs[rel]
            sys.stdout.writelines(
                difflib.unified_diff(
                    old.splitlines(True), new.splitlines(True), f"{rel} (committed)", f"{rel} (from raw results)"
                )
            )
        if stale:
            print(
                f"docs-figures: {', '.join(stale)} differ from the raw results: run `make docs-figures` and commit",
                file=sys.stderr,
            )
            return 1
        print(f"docs-figures: {len(docs)} docs up to date with their raw results")
        return 0
    for rel in stale:
        (root / rel).write_text(docs[rel][1])
        print(f"docs-figures: rewrote {rel}")
    n = sum(len(markers.names(old)) for old, _ in docs.values())
    print(f"docs-figures: {n} figures in {len(docs)} docs, {len(stale)} doc(s) changed")
    return 0
