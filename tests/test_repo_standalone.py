"""The repository stands alone: no tracked line points outside the checkout (issue 18, point 5).

The design contracts and the facts measured before the project live in docs/ (docs/architecture.md
and the doc that uses each fact), so a clone has everything the code and docs refer to. The one
path outside the checkout is the documented offline-data option: .ci/run points CODERL_SHARED_DATA
at CI's copy of the benchmark files (README, "Offline data").
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from coderl.paths import repo_root

# the folder of files beside the checkout, or the design notes that used to live there (spelled
# with character classes so that this file does not match itself)
OUTSIDE = re.compile(r"shared[/]|DESIGN[.]md")


def _allowed(path: str, line: str) -> bool:
    """CI's line that sets the offline-data option to its copy of the files."""
    return path == ".ci/run" and "CODERL_SHARED_DATA" in line


def references_outside(root: Path) -> list[str]:
    """`path:line: text` of every tracked text line that refers outside the checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"{root} is not a git checkout (git ls-files failed: {e}); the check reads tracked files")
    hits = []
    for rel in filter(None, out.decode("utf-8").split("\0")):
        path = root / rel
        if not path.is_file():  # deleted in the work tree, not yet committed
            continue
        data = path.read_bytes()
        if b"\0" in data:  # binary
            continue
        for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if OUTSIDE.search(line) and not _allowed(rel, line):
                hits.append(f"{rel}:{n}: {line.strip()[:160]}")
    return hits


def test_no_tracked_line_refers_outside_the_checkout():
    hits = references_outside(repo_root())
    assert not hits, (
        "these lines refer to files outside the repository (a clone does not have them); state the fact "
        "in the doc that uses it (docs/architecture.md for contracts) and point there instead:\n" + "\n".join(hits)
    )


def test_the_check_names_every_other_reference_by_file_and_line(tmp_path):
    beside = "../shared" + "/"  # split so that this file does not match itself
    (tmp_path / ".ci").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / ".ci" / "run").write_text(
        f'[ -d {beside}data ] && export CODERL_SHARED_DATA="$(cd {beside}data && pwd)"\ncp {beside}x .\n'
    )
    (tmp_path / "mod.py").write_text('"""One module."""\n\nX = 1  # see DESIGN' + '.md, "Contracts"\n')
    (tmp_path / "docs" / "a.md").write_text(f"# A\n\nfiles in {beside}data/mbpp.jsonl\n")
    (tmp_path / "untracked.md").write_text(f"{beside}data\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", ".ci/run", "mod.py", "docs/a.md"], cwd=tmp_path, check=True)

    hits = references_outside(tmp_path)

    assert [h.split(": ", 1)[0] for h in hits] == [".ci/run:2", "docs/a.md:3", "mod.py:3"]
