"""Published figures are generated from the committed raw results (make docs-figures), never typed.

The first test is the CI check: it regenerates every figure of docs/performance.md,
docs/throughput.md and docs/sandbox.md from docs/bench_*/ and fails when a committed doc differs.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from coderl.bench_record import write_result
from coderl.docs_figures import cli, markers, registry
from coderl.docs_figures.raw import Raw
from coderl.docs_figures.sandbox_figures import runner
from coderl.errors import ConfigError
from coderl.paths import repo_root

REPO = repo_root()
R2 = "bench_train/2026-11-27_7.6b_2xH200_runbook_vs_default.json"


def test_committed_docs_match_their_raw_results():
    stale = {rel: (old, new) for rel, (old, new) in cli.regenerate(REPO).items() if old != new}
    assert not stale, "docs differ from the raw results; run `make docs-figures` and commit:\n" + "\n".join(
        f"{rel}: first differing line: "
        + next(f"{a!r} != {b!r}" for a, b in zip(old.splitlines(), new.splitlines()) if a != b)
        for rel, (old, new) in stale.items()
    )
    # every marker in the docs names a known figure, and the docs do carry generated figures
    used = [n for rel in registry.DOCS for n in markers.names((REPO / rel).read_text())]
    assert {"train.current", "train.issue.speedup", "sandbox.pooled", "plan.under_reserved"} <= set(used)


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A copy of the docs and their raw results, to edit without touching the repo."""
    for rel in registry.DOCS:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, tmp_path / rel)
    for d in (REPO / "docs").glob("bench_*"):
        shutil.copytree(d, tmp_path / "docs" / d.name)
    return tmp_path


def test_check_fails_on_a_hand_edited_figure_and_regeneration_restores_it(checkout, capsys):
    perf = checkout / "docs/performance.md"
    text = perf.read_text()
    assert "**met, <!-- figures:train.issue.speedup -->5.17x<!--" in text
    perf.write_text(
        text.replace("<!-- figures:train.issue.speedup -->5.17x", "<!-- figures:train.issue.speedup -->5.20x")
    )
    assert cli.main(["--check", "--root", str(checkout)]) == 1
    out = capsys.readouterr()
    assert "-" in out.out and "5.20x" in out.out and "docs/performance.md differ" in out.err
    assert cli.main(["--root", str(checkout)]) == 0
    assert perf.read_text() == text
    assert cli.main(["--check", "--root", str(checkout)]) == 0


def test_a_changed_raw_result_changes_the_published_figures(checkout):
    """The figure follows the raw file: halve the default recipe's tokens/s and the speed-up halves."""
    raw_path = checkout / "docs" / R2
    data = json.loads(raw_path.read_text())
    default = next(r for r in data["results"] if r["recipe"] == "default")
    default["tokens_per_s_per_gpu"] /= 2
    raw_path.write_text(json.dumps(data))
    assert cli.main(["--check", "--root", str(checkout)]) == 1
    cli.main(["--root", str(checkout)])
    perf = (checkout / "docs/performance.md").read_text()
    assert "<!-- figures:train.issue.speedup -->2.59x<!--" in perf
    assert "| **4,456** |" in perf and "5.17x" not in (checkout / "docs/throughput.md").read_text()


def test_markers_errors_say_what_and_where():
    def render(name):
        return "X"

    assert (
        markers.fill("a <!-- figures:n -->old<!-- /figures:n --> b", render, "d.md")
        == "a <!-- figures:n -->X<!-- /figures:n --> b"
    )
    assert (
        markers.fill("<!-- figures:t -->\n| old |\n<!-- /figures:t -->\n", lambda n: "| new |", "d.md")
        == "<!-- figures:t -->\n| new |\n<!-- /figures:t -->\n"
    )
    with pytest.raises(ConfigError, match=r"d.md:2: figures span 'n' is never closed"):
        markers.fill("x\n<!-- figures:n --> y", render, "d.md")
    with pytest.raises(ConfigError, match="do not nest"):
        markers.fill("<!-- figures:a --><!-- figures:b --><!-- /figures:b --><!-- /figures:a -->", render, "d.md")
    with pytest.raises(ConfigError, match="without its opening"):
        markers.fill("<!-- /figures:a -->", render, "d.md")
    with pytest.raises(ConfigError, match="unknown figure 'train.nope'"):
        registry.render("train.nope", Raw(REPO / "docs"))


def test_a_missing_raw_file_or_recipe_is_a_clear_error(checkout):
    (checkout / "docs" / R2).unlink()
    with pytest.raises(ConfigError, match="2026-11-27_7.6b_2xH200_runbook_vs_default.json is missing"):
        cli.regenerate(checkout)
    assert cli.main(["--check", "--root", str(checkout)]) == 2
    with pytest.raises(ConfigError, match="has no result for recipe 'turbo'"):
        Raw(REPO / "docs").result("bench_train/2026-11-27_0.5b_1xH100.json", "turbo")


def test_write_result_records_provenance_and_never_overwrites(tmp_path):
    argv = ["python", "-m", "coderl.sandbox.bench", "--sections", "overhead", "--note", "two words"]
    first = write_result("sandbox", "2workers_overhead", {"rows": [{"x": 1}]}, argv, out_dir=tmp_path)
    second = write_result("sandbox", "2workers_overhead", {"rows": [{"x": 2}]}, argv, out_dir=tmp_path)
    assert first != second and second.name.endswith("_2.json")
    a, b = json.loads(first.read_text()), json.loads(second.read_text())
    assert a["rows"] == [{"x": 1}] and b["rows"] == [{"x": 2}]
    rec = a["record"]
    assert rec["command"] == "python -m coderl.sandbox.bench --sections overhead --note 'two words'"
    assert rec["machine"]["cpus"] >= 1 and rec["machine"]["hostname"]
    assert rec["versions"]["python"] == sys.version.split()[0] and len(rec["versions"]["coderl_commit"]) == 40
    assert rec["date"][:4].isdigit() and rec["bench"] == "sandbox"
    with pytest.raises(ConfigError, match="plain file stem"):
        write_result("sandbox", "../escape", {}, argv, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="reserved"):
        write_result("sandbox", "x", {"record": 1}, argv, out_dir=tmp_path)


def test_bench_sandbox_writes_a_raw_result_the_figures_can_read(tmp_path):
    """The real bench (a few trivial executions): its raw file has provenance and rows whose runner is known."""
    from coderl.sandbox import bench

    bench.ROWS.clear()
    rc = bench.main(["--sections", "overhead", "--n", "2", "--workers", "2", "--results-dir", str(tmp_path)])
    assert rc == 0
    (raw,) = tmp_path.glob("*_2workers_overhead.json")
    data = json.loads(raw.read_text())
    assert data["record"]["command"].endswith("--results-dir " + str(tmp_path))
    assert {runner(r["what"]) for r in data["rows"]} == {"bare", "fresh", "pooled", "session"}
    assert all(r["n"] == 2 and r["ms_per_item"] > 0 for r in data["rows"])
