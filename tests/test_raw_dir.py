"""The eval data folder is spelled once in the code (coderl.paths.RAW_DIR); every Python user imports it."""

from __future__ import annotations

import ast
from pathlib import Path

import coderl
from coderl.data.registry import raw_path
from coderl.paths import RAW_DIR, repo_root

PACKAGE_DIR = Path(coderl.__file__).resolve().parent


def _spellings(tree: ast.AST) -> list[int]:
    """Line numbers of "data/raw" as a value: the string itself, or "data" / "raw" joined as paths."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value in ("data/raw", "data/raw/"):
            lines.append(node.lineno)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left, right = node.left, node.right
            if isinstance(left, ast.BinOp):
                left = left.right
            if all(isinstance(n, ast.Constant) for n in (left, right)) and (left.value, right.value) == ("data", "raw"):
                lines.append(node.lineno)
    return lines


def test_data_raw_is_spelled_only_in_paths():
    found = {
        f"{f.relative_to(PACKAGE_DIR)}:{line}"
        for f in PACKAGE_DIR.rglob("*.py")
        for line in _spellings(ast.parse(f.read_text(), str(f)))
    }
    assert found == {f"paths.py:{_spellings(ast.parse((PACKAGE_DIR / 'paths.py').read_text()))[0]}"}, (
        "spell it as coderl.paths.RAW_DIR: " + ", ".join(sorted(found))
    )


def test_the_default_raw_file_is_under_the_repository():
    assert raw_path("humaneval") == repo_root() / RAW_DIR / "humaneval_raw.jsonl"
