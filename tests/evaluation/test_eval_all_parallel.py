"""eval-all --gpus N: several evaluations at once as Ray tasks on a local Ray instance with placeholder
GPUs, against the sequential run of the same checkpoints (the hf and oracle backends, the tiny model)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from coderl.cli import main
from coderl.errors import ConfigError
from coderl.evaluation.history import read_history
from coderl.evaluation.outputs import StepOutputs
from coderl.evaluation.parallel import backend_options, concurrent_evaluations, judge_workers
from ctrl_c import start_in_foreground_group

REPO = Path(__file__).resolve().parents[2]
STEPS = (10, 20, 30, 40)


def test_gpu_split_and_fair_judge_share():
    assert concurrent_evaluations(4, 1) == 4 and concurrent_evaluations(4, 2) == 2
    with pytest.raises(ConfigError, match="not a multiple of TP=2"):
        concurrent_evaluations(3, 2)
    assert [judge_workers(16, n) for n in (1, 2, 4, 32)] == [16, 8, 4, 1]
    opts = backend_options("vllm", [2, 3], 2, 8000)
    assert opts["port"] == 8002 and opts["env"] == {"CUDA_VISIBLE_DEVICES": "2,3"}
    assert opts["extra_args"] == ("--tensor-parallel-size", "2") and backend_options("hf", [1], 1, 8000) == {}


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance as on a 4-GPU box (the GPUs are placeholders: nothing here uses CUDA)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, num_gpus=4, include_dashboard=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def raw(tmp_path_factory, shared_data) -> Path:
    d = tmp_path_factory.mktemp("raw")
    assert main(["data", "--datasets", "humaneval,mbpp_reg", "--raw-dir", str(d), "--offline"]) == 0
    return d


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    """tier 1 = humaneval, tier 3 = humaneval + mbpp_reg, selection on humaneval, 12 new tokens."""
    import yaml

    d = tmp_path_factory.mktemp("configs")
    shutil.copy(REPO / "configs" / "prompts.yaml", d / "prompts.yaml")
    text = (REPO / "configs" / "eval.yaml").read_text()
    text = text.replace("dataset: codecontests_valid", "dataset: humaneval").replace(
        "max_new_tokens: 2048", "max_new_tokens: 12"
    )
    (d / "eval.yaml").write_text(text)
    ds = yaml.safe_load((REPO / "configs" / "datasets.yaml").read_text())
    ds["tiers"] = {1: ["humaneval"], 3: ["humaneval", "mbpp_reg"]}
    (d / "datasets.yaml").write_text(yaml.safe_dump(ds))
    return d / "eval.yaml"


@pytest.fixture(scope="module")
def ckpt_root(tmp_path_factory, tiny_model_dir) -> Path:
    root = tmp_path_factory.mktemp("ck")
    for s in STEPS:
        (root / f"global_step_{s}").mkdir()
        (root / f"global_step_{s}" / "huggingface").symlink_to(tiny_model_dir)
    return root


def eval_all(ckpt_root, config, raw, out, backend, limit, *extra) -> list[str]:
    return [
        "eval-all",
        "--ckpt-root",
        str(ckpt_root),
        "--backend",
        backend,
        "--limit",
        str(limit),
        "--eval-config",
        str(config),
        "--raw-dir",
        str(raw),
        "--out-root",
        str(out),
        "--progress-every",
        "1",
        *extra,
    ]


def without_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "timestamp"} for r in rows]


def step_dir(out: Path, step: int, limit: int | None) -> Path:
    """Where eval-all wrote a step: step_<N>_limit<K>/ for these --limit runs (evaluation/outputs.py)."""
    return StepOutputs.for_step(out, "phase1_sft", step, limit).dir


def per_problem(out: Path, step: int, limit: int = 3) -> dict[str, dict[str, tuple]]:
    d = step_dir(out, step, limit) / "per_problem"
    return {
        f.stem: {
            r["id"]: (r["verdict"], r["completion"], r["tests_passed"])
            for r in map(json.loads, f.read_text().splitlines())
        }
        for f in sorted(d.glob("*.jsonl"))
    }


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["oracle", "hf"])
def test_parallel_eval_all_matches_the_sequential_run(ray_cluster, tmp_path, ckpt_root, config, raw, backend, capsys):
    seq, par = tmp_path / "seq", tmp_path / "par"
    assert main(eval_all(ckpt_root, config, raw, seq, backend, 3)) == 0
    capsys.readouterr()
    assert main(eval_all(ckpt_root, config, raw, par, backend, 3, "--gpus", "4")) == 0
    printed = capsys.readouterr().out
    assert "4 evaluation(s) as Ray tasks" in printed
    assert all(f"step {s}: evaluated at tier {3 if s == 40 else 1}" in printed for s in STEPS)

    hs, hp = (read_history(o / "phase1_sft" / "eval_history.jsonl") for o in (seq, par))
    assert [(r["step"], r["tier"]) for r in hp] == [(10, 1), (20, 1), (30, 1), (40, 3)]
    assert without_time(hp) == without_time(hs)
    for s in STEPS:
        assert per_problem(par, s) == per_problem(seq, s) and per_problem(par, s)
        # 4 evaluations at once on 2 cores: one judge worker each instead of one per core
        assert json.loads((step_dir(par, s, 3) / "run_info.json").read_text())["judge_workers"] == 1
    best_s, best_p = (json.loads((o / "phase1_sft" / "best_checkpoint.json").read_text()) for o in (seq, par))
    best_s.pop("written_at"), best_p.pop("written_at")
    # --limit quick checks are never selected: both runs say so alike, row by row
    assert best_p == best_s and best_p["step"] is None and len(best_p["excluded"]) == len(STEPS)
    assert not list(par.glob(".coderl_shared_check_*"))  # the shared-path marker is cleaned up


def _ray_worker_pid(task_name: str) -> int | None:
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "cmdline").read_bytes().split(b"\0")[0] == f"ray::{task_name}".encode():
                    return int(d.name)
            except OSError:
                pass
    return None


@pytest.mark.slow
def test_a_killed_evaluation_fails_alone_and_resumes_from_its_cache(
    ray_cluster, tmp_path, ckpt_root, config, raw, capsys
):
    out, limit, victim = tmp_path / "out", 16, 20
    args = eval_all(ckpt_root, config, raw, out, "hf", limit, "--gpus", "4", "--tier-final", "1")
    gen_cache = step_dir(out, victim, limit) / "cache" / "generations" / "humaneval.jsonl"
    killed: dict[str, int] = {}

    def kill_mid_generation():
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            n = len(gen_cache.read_text().splitlines()) if gen_cache.exists() else 0
            pid = _ray_worker_pid(f"coderl_eval_step_{victim}")
            if pid and 2 <= n:
                os.kill(pid, signal.SIGKILL)
                killed["pid"], killed["at"] = pid, n
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_mid_generation, daemon=True)
    killer.start()
    assert main(args) == 1
    killer.join()
    printed = capsys.readouterr().out
    assert killed, "the victim's generation was never caught running"
    assert f"step {victim}: FAILED, the evaluation's Ray worker failed" in printed
    assert sum(f"step {s}: evaluated at tier 1" in printed for s in STEPS) == 3  # the others went on
    hist = out / "phase1_sft" / "eval_history.jsonl"
    assert sorted(r["step"] for r in read_history(hist)) == [s for s in STEPS if s != victim]
    before = [json.loads(x)["id"] for x in gen_cache.read_text().splitlines()]
    assert len(before) < limit, "the victim finished generating before the kill"

    assert main(args) == 0  # the next run evaluates only the victim, from its cache
    printed = capsys.readouterr().out
    assert "1 evaluation(s) as Ray tasks" in printed and printed.count("already in") == 3
    stats = json.loads((step_dir(out, victim, limit) / "run_info.json").read_text())["resume"]
    assert stats["cached_generations"] == len(set(before)) and stats["generated"] == limit - len(set(before))
    assert sorted(r["step"] for r in read_history(hist)) == list(STEPS)


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    found, stack = set(), [pid]
    while stack:
        for c in children.get(stack.pop(), []):
            found.add(c)
            stack.append(c)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.slow
def test_ctrl_c_stops_every_evaluation_and_the_ray_it_started(tmp_path, ckpt_root, config, raw):
    import sys

    out = tmp_path / "out"
    # as a terminal starts it (own group, SIGINT at its default: a suite run in the background passes
    # SIGINT on ignored, and then this run really did ignore it and finish with exit 0)
    proc = start_in_foreground_group(
        [sys.executable, "-m", "coderl", *eval_all(ckpt_root, config, raw, out, "hf", 16, "--gpus", "4")],
        env={k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"},
    )
    deadline = time.monotonic() + 300
    while not any((out / "phase1_sft").glob("step_*/cache/generations/*.jsonl")):
        assert proc.poll() is None and time.monotonic() < deadline, "no evaluation started"
        time.sleep(0.1)
    started = _descendants(proc.pid)  # Ray's own processes and the evaluation workers
    assert any(b"ray::coderl_eval_step_" in Path(f"/proc/{p}/cmdline").read_bytes() for p in started if _alive(p))
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends to the foreground group
    printed, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in printed, (proc.returncode, printed[-2000:])
    # the event: every process of the run gone; the promise is within 10 s of the command's exit
    gone_by = time.monotonic() + 10
    while [p for p in started if _alive(p)] and time.monotonic() < gone_by:
        time.sleep(0.1)
    assert not [p for p in started if _alive(p)], "processes of the interrupted run are still alive 10 s later"
