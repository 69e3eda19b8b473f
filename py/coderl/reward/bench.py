"""`make bench-reward` (python -m coderl.reward.bench): the RL reward on a GRPO-like batch.

Section `batch` (default): --problems CodeContests train300 problems x --answers answers each
(reward/answers.py: the known solution in several presentations, wrong answers, crashes, syntax
errors, early exits, no code, and --timeouts programs that never end), scored in one run by
  coderl      coderl.reward (binary), full isolation, pooled sandboxes, --workers judge threads
  prime_code  verl.utils.reward_score.prime_code.compute_score(..., continuous=True), as verl's
              default reward calls it for codecontests, on --workers threads (no isolation)
  judge       coderl's judge on the extracted programs (what `coderl judge` / `make eval` give):
              the reference for agreement
  bare        the extracted programs run bare (`python3 -I prog.py`, no sandbox, no limits), same
              tests, same stop-at-first-failure, same threads; it also measures each answer's own
              CPU time, hence the floor: max(total CPU / workers, the longest answer); then, untimed,
              the same runs each beside an empty program: the answers' compute without interpreter
              starts (answers_program_cpu_s), against which the reward's CPU is judged
Each reports wall seconds, CPU seconds (the scorer's process and every descendant: load on a
shared machine inflates wall time, not these), solutions/s (and per core), p50/p99 latency of a
solution within the batch (from the batch's start to its score) and agreement with the judge
(accepted <=> reward 1).
Section `agreement`: every train300 known solution through the reward and the judge.

coderl, judge and bare get the per-execution time limit --timeout-s (default 5 s: prime_code's
first pass over all tests uses 5 s; its per-test re-run of a failed answer uses 10 s, in its code;
evaluation uses configs/eval.yaml's 30 s).
Results: a markdown table, and the raw result through coderl.bench_record.write_result:
--results-dir (default docs/results/) / <date>_bench_reward_<problems>x<answers>_<workers>workers.json,
with its `record` block (machine, date, versions, command line); --json PATH also writes a copy there.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..config import load_eval_config
from ..generation.extract import extract_for_problem
from ..paths import repo_root, shared_data_dir
from ..sandbox import samples
from ..sandbox.compare import get_comparator
from ..sandbox.judge import JudgePool
from . import answers as answer_kinds
from .scorer import RewardScorer

RESULTS_DIR = repo_root() / "docs" / "results"  # bench-reward's raw results (rl.plan reads the newest)
SANDBOXFUSION_64_CORES = (13.6, 14.9)  # solutions/s on 64 cores / 128 threads (ScaleBox's report)


def _percentile(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def _row(
    name: str,
    wall: float,
    latencies: list[float],
    accepted: list[bool],
    reference: list[bool] | None,
    workers: int,
    **extra,
) -> dict:
    n = len(accepted)
    row = {
        "scorer": name,
        "solutions": n,
        "wall_s": round(wall, 2),
        "solutions_per_s": round(n / wall, 2),
        "solutions_per_s_per_core": round(n / wall / workers, 2),
        "latency_p50_s": round(_percentile(latencies, 50), 3),
        "latency_p99_s": round(_percentile(latencies, 99), 3),
        "accepted": sum(accepted),
    }
    if reference is not None:
        row["agree_with_judge"] = sum(a == b for a, b in zip(accepted, reference))
        row["disagree_ids"] = [i for i, (a, b) in enumerate(zip(accepted, reference)) if a != b][:20]
    row.update(extra)
    print(json.dumps(row), flush=True)
    return row


def _timed_map(fn, items: list, workers: int) -> tuple[list, list[float], float]:
    """Run fn over items on `workers` threads, all submitted at once; (results, latencies, wall)."""
    t0 = time.monotonic()
    lat = [0.0] * len(items)
    with cf.ThreadPoolExecutor(workers) as pool:
        futs = []
        for i, it in enumerate(items):
            f = pool.submit(fn, it)
            f.add_done_callback(lambda _f, i=i: lat.__setitem__(i, time.monotonic() - t0))
            futs.append(f)
        results = [f.result() for f in futs]
    return results, lat, time.monotonic() - t0


def _run_bare(python: str, prog: Path, stdin: Path, cwd: str, timeout: float) -> tuple[bytes, int, float, bool]:
    """`python3 -I prog` on stdin, killed at `timeout`: (stdout, exit code, its own CPU s, killed)."""
    with open(stdin, "rb") as f:
        proc = subprocess.Popen(
            [python, "-I", str(prog)], stdin=f, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd
        )
    killed = threading.Event()
    timer = threading.Timer(timeout, lambda: (killed.set(), os.kill(proc.pid, 9)))
    timer.start()
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)  # reaped here: its own rusage, not the threads' sum
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return out, proc.returncode, usage.ru_utime + usage.ru_stime, killed.is_set()


def _bare_stdio(
    python: str, code: str | None, tests: list[dict], timeout: float, same, *, paired: bool = False
) -> tuple[bool, float, int, float]:
    """The floor: run the program bare on each test in turn, stop at the first failure.

    Returns (accepted, the program's own CPU seconds: user + system of each run, or the time
    limit for a run that reached it, the number of runs, the program's CPU without interpreter
    starts). The last is measured only with `paired`: each run is followed by an empty program on
    the same input, whose CPU is subtracted (a start-up measured beside each run, not once for the
    batch: on a loaded machine the cost of a start drifts by several ms during a run).
    """
    if code is None:
        return False, 0.0, 0, 0.0
    cpu = program_cpu = 0.0
    runs = 0
    with tempfile.TemporaryDirectory(prefix="coderl-bare-") as d:
        prog, empty, stdin = Path(d, "prog.py"), Path(d, "empty.py"), Path(d, "stdin")
        prog.write_text(code)
        empty.write_text("")
        for t in tests:
            stdin.write_text(t["input"])
            out, rc, used, killed = _run_bare(python, prog, stdin, d, timeout)
            runs += 1
            if killed:
                return False, cpu + timeout, runs, program_cpu + timeout
            cpu += used
            if paired:
                program_cpu += used - _run_bare(python, empty, stdin, d, timeout)[2]
            if rc != 0 or not same(out.decode("utf-8", "replace"), t["output"]):
                return False, cpu, runs, program_cpu
    return True, cpu, runs, program_cpu


def _interpreter_start_cpu(python: str, n: int = 20) -> float:
    """Median CPU seconds of `python3 -I -c pass`: what every bare run pays before the answer's code."""
    times = []
    for _ in range(n):
        proc = subprocess.Popen([python, "-I", "-c", "pass"])
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
        times.append(usage.ru_utime + usage.ru_stime)
    return sorted(times)[n // 2]


def _prime_code(item) -> bool:
    from verl.utils.reward_score import prime_code

    text, tests_json = item
    ok, _ = prime_code.compute_score(text, tests_json, continuous=True)
    return ok is True or ok == 1


class CpuMeter:
    """CPU seconds used by this process and every descendant (sandboxes included) between two points.

    Robust to machine load, unlike wall time: this process's own and reaped children's rusage, plus
    each live descendant's own and reaped-children time (a pooled sandbox reaps its forks).
    """

    def __init__(self) -> None:
        self.start = self._snapshot()

    @staticmethod
    def _snapshot() -> tuple[float, dict[int, float]]:
        import psutil

        own = sum(
            getattr(resource.getrusage(w), a)
            for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
            for a in ("ru_utime", "ru_stime")
        )
        live = {}
        for child in psutil.Process().children(recursive=True):
            try:
                t = child.cpu_times()
                live[child.pid] = t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return own, live

    def seconds(self) -> float:
        own0, live0 = self.start
        own1, live1 = self._snapshot()
        return own1 - own0 + sum(t - live0.get(pid, 0.0) for pid, t in live1.items())


def _leftover_children() -> int:
    import psutil

    return len(psutil.Process().children(recursive=True))


def bench_batch(cfg, items, args, workers: int) -> list[dict]:
    """items: [(problem, known solution)]; returns the rows."""
    batch = []  # (problem, kind, text)
    for i, (p, sol) in enumerate(items):
        for kind, text in answer_kinds.group(sol, args.answers, with_timeout=i < args.timeouts):
            batch.append((p, kind, text))
    kinds: dict[str, int] = {}
    for _, k, _ in batch:
        kinds[k] = kinds.get(k, 0) + 1
    print(
        json.dumps({"batch": len(batch), "problems": len(items), "answers": args.answers, "kinds": kinds}), flush=True
    )
    rows = []
    extracted = [extract_for_problem(text, p).code for p, _, text in batch]

    # The reference: coderl's judge on the extracted programs, as `coderl judge` runs it.
    scorer = RewardScorer(cfg, workers=workers)
    with JudgePool(scorer.executor, workers, compare=cfg.judge["stdio_compare"], stop_at_first_failure=True) as pool:
        t0 = time.monotonic()
        verdicts = [f.result() for f in [pool.submit(p, c) for (p, _, _), c in zip(batch, extracted)]]
        judge_wall = time.monotonic() - t0
    reference = [v.accepted for v in verdicts]
    rows.append(_row("judge (coderl judge on extracted code)", judge_wall, [], reference, None, workers))

    same = get_comparator(cfg.judge["stdio_compare"])
    meter = CpuMeter()
    results, lat, wall = _timed_map(
        lambda it: _bare_stdio(scorer.executor.python, it[1], it[0].tests, args.timeout_s, same),
        [(p, c) for (p, _, _), c in zip(batch, extracted)],
        workers,
    )
    bare_cpu_s = meter.seconds()  # the timed pass only
    cpu = [c for _, c, _, _ in results]
    runs = sum(r for _, _, r, _ in results)
    # Untimed: the same runs again, each beside an empty program, for the answers' own compute.
    paired, _, _ = _timed_map(
        lambda it: _bare_stdio(scorer.executor.python, it[1], it[0].tests, args.timeout_s, same, paired=True),
        [(p, c) for (p, _, _), c in zip(batch, extracted)],
        workers,
    )
    # No scorer can finish before every answer's own CPU time is spent on `workers` cores, nor
    # before the longest single answer (a time-out) has run.
    floor_s = max(sum(cpu) / workers, max(cpu, default=0.0))
    start_s = _interpreter_start_cpu(scorer.executor.python)
    rows.append(
        _row(
            "bare runner (python3 -I per test, no isolation)",
            wall,
            lat,
            [ok for ok, _, _, _ in results],
            reference,
            workers,
            answers_cpu_s=round(sum(cpu), 2),
            floor_s=round(floor_s, 2),
            runs=runs,
            interpreter_start_cpu_s=round(start_s, 4),
            answers_cpu_without_starts_s=round(max(0.0, sum(cpu) - runs * start_s), 2),
            answers_program_cpu_s=round(sum(pc for _, _, _, pc in paired), 2),
            paired_runs=sum(r for _, _, r, _ in paired),
            cpu_s=round(bare_cpu_s, 2),
        )
    )

    meter = CpuMeter()
    t0 = time.monotonic()
    lat = [0.0] * len(batch)
    futs = []
    for i, (p, _, text) in enumerate(batch):
        f = scorer.submit(text, p, "binary")
        f.add_done_callback(lambda _f, i=i: lat.__setitem__(i, time.monotonic() - t0))
        futs.append(f)
    scores = [f.result() for f in futs]
    wall = time.monotonic() - t0
    rows.append(
        _row(
            "coderl.reward (binary, bwrap pooled)"
            if scorer.executor.isolation_level == "bwrap"
            else f"coderl.reward (binary, {scorer.executor.isolation_level})",
            wall,
            lat,
            [s["score"] == 1.0 for s in scores],
            reference,
            workers,
            cpu_s=round(meter.seconds(), 2),
        )
    )
    scorer.close()

    if "prime_code" in args.scorers:
        before = _leftover_children()
        pc_items = [
            (text, json.dumps({"inputs": [t["input"] for t in p.tests], "outputs": [t["output"] for t in p.tests]}))
            for p, _, text in batch
        ]
        meter = CpuMeter()
        results, lat, wall = _timed_map(_prime_code, pc_items, workers)
        cpu_s = meter.seconds()
        time.sleep(1.0)
        rows.append(
            _row(
                "verl prime_code (continuous=True, no isolation)",
                wall,
                lat,
                results,
                reference,
                workers,
                cpu_s=round(cpu_s, 2),
                processes_left_after=_leftover_children() - before,
            )
        )
    return rows


def bench_agreement(cfg, items, workers: int) -> dict:
    """Every known solution (fenced, as a model answers): reward == 1 iff the judge accepts."""
    scorer = RewardScorer(cfg, workers=workers)
    texts = [(p, answer_kinds.answer("known_fenced", sol)) for p, sol in items]
    t0 = time.monotonic()
    scores = [f.result() for f in [scorer.submit(t, p, "binary") for p, t in texts]]
    reward_wall = time.monotonic() - t0
    with JudgePool(scorer.executor, workers, compare=cfg.judge["stdio_compare"], stop_at_first_failure=True) as pool:
        verdicts = [f.result() for f in [pool.submit(p, extract_for_problem(t, p).code) for p, t in texts]]
    scorer.close()
    disagree = [p.id for (p, _), s, v in zip(texts, scores, verdicts) if (s["score"] == 1.0) != v.accepted]
    row = {
        "section": "agreement",
        "problems": len(items),
        "reward_accepted": sum(s["score"] == 1.0 for s in scores),
        "judge_accepted": sum(v.accepted for v in verdicts),
        "disagree": disagree,
        "reward_wall_s": round(reward_wall, 2),
    }
    print(json.dumps(row), flush=True)
    return row


def _machine() -> dict:
    model = ""
    try:
        model = next(
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return {"node": platform.node(), "cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version()}


def _versions() -> dict:
    import verl

    commit = ""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"coderl_commit": commit, "verl": verl.__version__}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m coderl.reward.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default="batch", help="batch,agreement")
    ap.add_argument(
        "--problems", type=int, default=4, help="train300 problems in the batch (default 4: prime_code needs minutes)"
    )
    ap.add_argument("--answers", type=int, default=16, help="answers per problem (default 16)")
    ap.add_argument(
        "--timeouts", type=int, default=1, help="problems whose group has one never-ending answer (default 1)"
    )
    ap.add_argument(
        "--timeout-s", type=float, default=5.0, help="per-execution time limit for every scorer (default 5)"
    )
    ap.add_argument("--workers", type=int, default=0, help="threads per scorer; 0 = one per core")
    ap.add_argument("--scorers", default="coderl,prime_code", help="add or drop prime_code (the slow one)")
    ap.add_argument("--json", help="also write the raw result to this path")
    ap.add_argument("--results-dir", help="where the raw result goes (default docs/results/ of the checkout)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = ap.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    data = shared_data_dir()
    if data is None:
        print(
            "codecontests_train300.jsonl is not in CODERL_SHARED_DATA (the offline data folder): nothing to benchmark",
            file=sys.stderr,
        )
        return 2
    workers = args.workers or (os.cpu_count() or 1)
    base = load_eval_config()
    cfg = dataclasses.replace(base, sandbox={**base.sandbox, "run_timeout_s": args.timeout_s})
    items = samples.codecontests_train300(data / "codecontests_train300.jsonl")
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    head = {
        "machine": _machine(),
        "date": date,
        "versions": _versions(),
        "command": " ".join(["python -m coderl.reward.bench", *argv]),
        "workers": workers,
        "timeout_s": args.timeout_s,
        "memory_limit_mb": cfg.sandbox["memory_limit_mb"],
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "sandboxfusion_published_solutions_per_s_64_cores": list(SANDBOXFUSION_64_CORES),
    }
    print(json.dumps(head), flush=True)
    out: dict = dict(head)
    if "batch" in args.sections:
        out["batch"] = bench_batch(cfg, items[: args.problems], args, workers)
    if "agreement" in args.sections:
        out["agreement"] = bench_agreement(base, items, workers)
    out["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if "batch" in out:
        rows = {r["scorer"].split(" ")[0]: r for r in out["batch"]}
        ours, bare = rows["coderl.reward"], rows["bare"]
        out["summary"] = {
            "floor_s": bare["floor_s"],
            "coderl_vs_floor": round(ours["wall_s"] / bare["floor_s"], 2),
            "coderl_cpu_vs_answers_cpu": round(ours["cpu_s"] / bare["answers_cpu_s"], 2),
            "coderl_cpu_vs_answers_cpu_without_starts": round(
                ours["cpu_s"] / max(bare["answers_cpu_without_starts_s"], 1e-9), 2
            ),
            "coderl_vs_bare_runner": round(ours["wall_s"] / bare["wall_s"], 2),
            # the goal's measure: the reward's CPU against the answers' own compute, each bare run's
            # interpreter start taken out by an empty program run beside it
            "coderl_cpu_vs_answers_program_cpu": round(ours["cpu_s"] / max(bare["answers_program_cpu_s"], 1e-9), 2),
            "sandboxfusion_per_core": [round(x / 64, 3) for x in SANDBOXFUSION_64_CORES],
        }
        if "verl" in rows:
            out["summary"]["coderl_vs_prime_code_speed"] = round(rows["verl"]["wall_s"] / ours["wall_s"], 2)
            out["summary"]["coderl_vs_prime_code_cpu"] = round(rows["verl"]["cpu_s"] / ours["cpu_s"], 2)
        print(
            "\n| scorer | solutions | wall s | CPU s | solutions/s | per core | p50 s | p99 s | accepted | agree with judge |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in out["batch"]:
            print(
                f"| {r['scorer']} | {r['solutions']} | {r['wall_s']} | {r.get('cpu_s', '—')} | {r['solutions_per_s']} | "
                f"{r['solutions_per_s_per_core']} | {r['latency_p50_s']} | {r['latency_p99_s']} | {r['accepted']} | "
                f"{r.get('agree_with_judge', '—')} |"
            )
        print(json.dumps(out["summary"]))
    from ..bench_record import write_result

    cmd = ["python", "-m", "coderl.reward.bench", *argv]
    path = write_result("reward", result_name(args, workers), out, cmd, out_dir=args.results_dir or RESULTS_DIR)
    print(f"raw result: {path} (commit it)")
    if args.json:
        from ..bench_record import record
        from ..io_utils import atomic_write_json

        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.json, {"record": record("reward", cmd), **out})
        print(f"copy: {args.json}")
    return 0


def result_name(args: argparse.Namespace, workers: int) -> str:
    """File stem of the raw result: what was run, e.g. bench_reward_4x16_2workers (+ _agreement)."""
    parts = ["bench_reward"]
    if "batch" in args.sections:
        parts.append(f"{args.problems}x{args.answers}")
        if "prime_code" not in args.scorers:
            parts.append("coderl")
    parts.append(f"{workers}workers")
    if "agreement" in args.sections:
        parts.append("agreement")
    return "_".join(parts)


if __name__ == "__main__":
    sys.exit(main())
