"""`make bench-reward` writes its raw result through coderl.bench_record (machine, date, versions,
command line) under docs/results/, keeps its own keys, and `coderl plan --rl` reads the newest one.

A real run on a tiny batch: train300 problems, the real sandbox and judge (no prime_code: minutes).
"""

from __future__ import annotations

import json

from coderl.reward import bench
from coderl.rl.plan import latest_reward_bench


def test_bench_reward_writes_a_recorded_raw_result_the_rl_plan_reads(shared_data, tmp_path):
    argv = ["--problems", "1", "--answers", "3", "--timeouts", "0", "--workers", "2", "--scorers", "coderl"]
    assert bench.main([*argv, "--results-dir", str(tmp_path)]) == 0
    files = sorted(tmp_path.glob("*.json"))
    assert [f.name[10:] for f in files] == ["_bench_reward_1x3_coderl_2workers.json"]
    raw = json.loads(files[0].read_text())

    rec = raw["record"]  # the provenance block every bench result carries
    assert rec["bench"] == "reward" and rec["argv"][:3] == ["python", "-m", "coderl.reward.bench"]
    assert "--problems 1" in rec["command"] and rec["machine"]["cpus"] and rec["versions"]["verl"]
    # the keys the bench wrote before (the docs tables are rendered from them) are all still there
    for key in ("machine", "date", "versions", "command", "workers", "timeout_s", "batch", "summary"):
        assert key in raw, key
    assert raw["command"].startswith("python -m coderl.reward.bench --problems 1")
    rows = {r["scorer"].split(" ")[0]: r for r in raw["batch"]}
    assert set(rows) == {"judge", "bare", "coderl.reward"}
    ours = rows["coderl.reward"]
    assert ours["solutions"] == 3 and ours["agree_with_judge"] == 3 and ours["accepted"] == rows["judge"]["accepted"]
    assert ours["cpu_s"] > 0 and raw["summary"]["coderl_cpu_vs_answers_cpu"] > 0
    bare = rows["bare"]  # the answers' compute: each run beside an empty program, the same runs again
    assert bare["paired_runs"] == bare["runs"] and bare["answers_program_cpu_s"] < bare["answers_cpu_s"]
    assert bare["cpu_s"] < 2 * bare["answers_cpu_s"]  # the timed pass alone, not the paired one too
    assert raw["summary"]["coderl_cpu_vs_answers_program_cpu"] > 0

    per_core, basis = latest_reward_bench(tmp_path)
    assert per_core == ours["solutions_per_s_per_core"] and files[0].name in basis
    # an older-form result of an earlier day does not hide it
    (tmp_path / "bench_reward_2026-01-01.json").write_text(
        json.dumps(
            {"date": "2026-01-01 00:00 UTC", "batch": [{"scorer": "coderl.reward", "solutions_per_s_per_core": 1}]}
        )
    )
    assert latest_reward_bench(tmp_path)[1].startswith(files[0].name)
