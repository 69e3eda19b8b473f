"""Published figures are generated from the committed raw results (make docs-figures), never typed.

The first test is the CI check: it regenerates every figure of the generated docs (registry.DOCS)
from docs/bench_*/, docs/results/ and docs/gpu_path/ and fails when a committed doc differs.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from coderl.bench_record import write_result
from coderl.docs_figures import cli, eval_figures, load_flips_figures, markers, registry, reward_figures
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
    assert {
        "reward.table",
        "eval.table",
        "sandbox.load_flips",
        "gpu_path.gpu.stages",
        "reward.nt.vs_answers_cpu",
    } <= set(used)


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A copy of the docs and their raw results, to edit without touching the repo."""
    for rel in registry.DOCS:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, tmp_path / rel)
    for d in [*(REPO / "docs").glob("bench_*"), REPO / "docs" / "results", REPO / "docs" / "gpu_path"]:
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


# (doc, a generated figure as committed, the same figure edited by hand): one per generated table or
# prose figure of issue 22's second round (bench-eval, bench-reward, load flips, 0.41x run, GPU path)
HAND_EDITS = [
    (
        "docs/performance.md",
        "| hf (tiny model in-process, CPU) | 326.7 s |",
        "| hf (tiny model in-process, CPU) | 300.0 s |",
    ),
    ("docs/performance.md", "| **coderl.reward** | 64 | **7.98** |", "| **coderl.reward** | 64 | **6.98** |"),
    ("docs/performance.md", "256 accepted, 2 timeout (509 s)", "256 accepted, 2 timeout (409 s)"),
    ("docs/performance.md", "prime_speed -->25x<!--", "prime_speed -->30x<!--"),
    ("docs/performance.md", "vs_answers_cpu -->0.43x<!--", "vs_answers_cpu -->0.41x<!--"),
    ("docs/performance.md", "4.04 s (**0.41x**)", "4.04 s (**0.31x**)"),
    ("docs/throughput.md", "| smoke | PASS | 123.9 |", "| smoke | PASS | 23.9 |"),
    ("docs/throughput.md", "worst relative error 1.07e-2", "worst relative error 1.0e-2"),
    ("docs/hardware.md", "(GPUS=16): peak 31.1 GB", "(GPUS=16): peak 28.7 GB"),
    ("docs/rl.md", "update_s -->11-13 s<!--", "update_s -->11 s<!--"),
    ("docs/demo.md", "demo.before.training -->570.5 s<!--", "demo.before.training -->470.5 s<!--"),
    ("docs/performance.md", "| 8 x 32 | 104-172 |", "| 8 x 32 | 104 |"),
    (
        "docs/performance.md",
        "costs <!-- figures:sandbox.idle.fresh_extra_ms -->16.6 ms",
        "costs <!-- figures:sandbox.idle.fresh_extra_ms -->17 ms",
    ),
]


@pytest.mark.parametrize(("rel", "committed", "edited"), HAND_EDITS, ids=[e[1][:30] for e in HAND_EDITS])
def test_check_fails_when_a_new_generated_figure_is_edited_by_hand(checkout, rel, committed, edited):
    doc = checkout / rel
    text = doc.read_text()
    assert text.count(committed) == 1
    doc.write_text(text.replace(committed, edited))
    assert cli.main(["--check", "--root", str(checkout)]) == 1
    assert cli.main(["--root", str(checkout)]) == 0
    assert doc.read_text() == text


def test_reward_and_eval_figures_follow_their_raw_files(checkout):
    """Halve coderl.reward's wall time in the default bench-reward run, slow down eval-all's parallel hf run."""
    reward = checkout / "docs" / reward_figures.DEFAULT
    data = json.loads(reward.read_text())
    ours = next(r for r in data["batch"] if r["scorer"].startswith("coderl.reward"))
    ours["wall_s"] = 3.99
    data["summary"]["coderl_vs_prime_code_speed"] = 50.4
    reward.write_text(json.dumps(data))
    ev = checkout / "docs" / eval_figures.EVAL
    data = json.loads(ev.read_text())
    next(r for r in data["runs"] if r["backend"] == "hf" and r["mode"] == "gpus4")["wall_s"] = 163.4
    ev.write_text(json.dumps(data))
    assert cli.main(["--check", "--root", str(checkout)]) == 1
    cli.main(["--root", str(checkout)])
    perf = (checkout / "docs/performance.md").read_text()
    assert "prime_speed -->50x<!--" in perf and "| **coderl.reward** | 64 | **3.99** |" in perf
    assert "| 326.7 s | 163.4 s | 2.00x faster | yes |" in perf and "hf_ratio -->2.00x<!--" in perf


def test_reward_figures_read_a_file_written_through_bench_record(tmp_path):
    """Engineer 20 moves bench-reward to write_result: date and machine move into `record`, the rest stays."""
    data = json.loads((REPO / "docs" / reward_figures.DEFAULT).read_text())
    payload = {k: v for k, v in data.items() if k not in ("date", "machine", "command", "versions")}
    path = write_result("reward", "4x16", payload, ["python", "-m", "coderl.reward.bench"], out_dir=tmp_path / "r")
    raw = Raw(tmp_path)
    rel = f"r/{path.name}"
    assert reward_figures.meta(raw, rel, "date")[:4].isdigit()
    assert reward_figures.scorer(raw, rel, "verl")["agree_with_judge"] == 52


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


def test_load_flips_writes_a_raw_result_the_figures_can_read(shared_data, tmp_path):
    """The real load-flips run on 2 train300 problems (no burner): every verdict, clock and load are kept."""
    from coderl.sandbox import load_flips

    argv = ["--limit", "2", "--burners", "0", "--workers", "1", "--results-dir", str(tmp_path / "bench_sandbox")]
    assert load_flips.main(argv) == 0
    (path,) = (tmp_path / "bench_sandbox").glob("*_load_flips_1workers_0burners_limit2.json")
    data = json.loads(path.read_text())
    assert data["record"]["command"] == "python -m coderl.sandbox.load_flips " + " ".join(argv)
    assert data["n"] == 2 and data["rerun_policy"] == load_flips.RERUN_POLICY and len(data["runs"]) == 3
    for run in data["runs"].values():
        assert len(run["verdicts"]) == 2 and sum(run["counts"].values()) == 2
        assert len(run["loadavg_start"]) == 3 and run["utc"][2] == ":" and run["wall_s"] >= 0
    label, ref, off, on = load_flips_figures.row(Raw(tmp_path), "C", f"bench_sandbox/{path.name}")
    assert label.startswith("C. a time-out whose CPU time is below 0.5") and ", load " in label
    assert ref.endswith(" s)") and "accepted" in ref and "flip" in off and "flip" in on


@pytest.mark.slow
def test_bench_eval_writes_a_raw_result_the_figures_can_read(shared_data, tmp_path):
    """The real bench-eval (oracle backend: judging only; Ray for --gpus 2): its raw file goes through
    bench_record and eval_figures reads it."""
    from coderl.evaluation import bench_eval

    argv = ["--backends", "oracle", "--limit", "1", "--gpus", "2", "--results-dir", str(tmp_path / "bench_eval")]
    assert bench_eval.main(argv) == 0
    (path,) = (tmp_path / "bench_eval").glob("*_4ckpt_oracle_limit1_gpus2.json")
    data = json.loads(path.read_text())
    assert data["record"]["bench"] == "eval" and data["record"]["versions"]["ray"]
    assert [(r["backend"], r["mode"]) for r in data["runs"]] == [("oracle", "sequential"), ("oracle", "gpus2")]
    assert data["runs"][1]["same_history_rows_as_sequential"] is True
    raw, rel = Raw(tmp_path), f"bench_eval/{path.name}"
    assert eval_figures.provenance(raw, rel)["cores"] >= 1
    assert eval_figures.ratio(raw, rel, "oracle").split()[1] in ("faster", "slower")
