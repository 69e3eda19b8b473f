"""How many verdicts a loaded machine flips: `python -m coderl.sandbox.load_flips` (docs/performance.md).

The 300 CodeContests problems with known solutions are judged three times with the eval config's
limits and pooled sandboxes: a reference (1 worker, nothing else started), then under load (the
judge's workers plus busy-loop processes burning CPU) without and with the re-run of a timed-out
or killed execution alone (JudgePool rerun_alone). A flip is a problem whose (verdict, tests
passed) differs from the reference. Prints one JSON line per run and the flips, and writes the raw
result through coderl.bench_record (docs/bench_sandbox/<date>_load_flips_<...>.json: every verdict of
every run, with machine, date, versions, command line); `make docs-figures` renders
docs/performance.md's table from it (coderl.docs_figures.load_flips_figures).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from ..bench_record import results_dir, write_result
from ..config import load_eval_config
from ..paths import shared_data_dir
from . import samples
from .judge import RERUN_WALL_FACTOR, STARVED_CPU_SHARE, JudgePool
from .local import LocalExecutor

# what "re-run on" means in the code that wrote a result (the figures of older policies are transcribed)
RERUN_POLICY = (
    f"a time-out whose CPU time is below {STARVED_CPU_SHARE:g} of its wall time (starved) or a sandbox_error "
    f"is judged again alone, with {RERUN_WALL_FACTOR:g}x the wall limit, a time-out judged by CPU time"
)


def judge_all(ex: LocalExecutor, items, workers: int, rerun_alone: bool) -> tuple[dict[str, tuple], float]:
    t = time.monotonic()
    with JudgePool(ex, workers, rerun_alone=rerun_alone) as pool:
        futures = [(p.id, pool.submit(p, code)) for p, code in items]
        out = {pid: f.result() for pid, f in futures}
    return {pid: (v.verdict, v.tests_passed) for pid, v in out.items()}, time.monotonic() - t


REFERENCE = "reference (1 worker, no load, re-run on)"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def burners(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m coderl.sandbox.load_flips", description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="judge workers under load (default 2)")
    ap.add_argument("--burners", type=int, default=1, help="busy-loop processes under load (default 1)")
    ap.add_argument("--timeout", type=float, default=None, help="wall limit per execution (default: the eval config's)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N problems")
    ap.add_argument("--json", help="also write the runs and flips to this file")
    ap.add_argument(
        "--results-dir",
        default=None,
        help="where the raw result (with machine, date, versions, command) goes (default: docs/bench_sandbox)",
    )
    args = ap.parse_args(argv)
    cfg = load_eval_config()
    sb = cfg.sandbox
    timeout = args.timeout or float(sb["run_timeout_s"])
    ex = LocalExecutor(
        timeout_s=timeout,
        memory_mb=int(sb["memory_limit_mb"]),
        output_bytes=int(float(sb["max_output_mb"]) * 1024 * 1024),
    )
    items = samples.codecontests_train300(Path(shared_data_dir()) / "codecontests_train300.jsonl")
    items = items[: args.limit] if args.limit else items
    runs: dict[str, dict] = {}

    def record(name: str, workers: int, rerun: bool) -> None:
        # the machine's load and the clock around each run: on a shared box they explain its figures
        started, load_start = time.strftime("%H:%M", time.gmtime()), _load()
        verdicts, wall = judge_all(ex, items, workers, rerun)
        runs[name] = {
            "verdicts": verdicts,
            "wall_s": round(wall, 1),
            "counts": dict(Counter(v for v, _ in verdicts.values())),
            "workers": workers,
            "rerun": rerun,
            "utc": f"{started}-{time.strftime('%H:%M', time.gmtime())}",
            "loadavg_start": load_start,
            "loadavg_end": _load(),
        }
        print(json.dumps({"run": name, "wall_s": runs[name]["wall_s"], "counts": runs[name]["counts"]}), flush=True)

    record(REFERENCE, 1, True)
    ref = runs[REFERENCE]["verdicts"]
    flips = {}
    for rerun in (False, True):
        name = f"{args.workers} workers + {args.burners} busy core(s), re-run {'on' if rerun else 'off'}"
        procs = burners(args.burners)
        try:
            record(name, args.workers, rerun)
        finally:
            for p in procs:
                p.kill()
                p.wait()
        got = runs[name]["verdicts"]
        flips[name] = {pid: {"reference": ref[pid], "loaded": got[pid]} for pid in ref if got[pid] != ref[pid]}
        print(json.dumps({"run": name, "flips": len(flips[name]), "of": len(ref), "which": flips[name]}), flush=True)
    ex.close()
    result = {
        "timeout_s": timeout,
        "memory_mb": int(sb["memory_limit_mb"]),
        "n": len(items),
        "burners": args.burners,
        "rerun_policy": RERUN_POLICY,
        "reference": REFERENCE,
        "runs": runs,
        "flips": flips,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=list))
    raw = write_result(
        "sandbox",
        f"load_flips_{args.workers}workers_{args.burners}burners" + (f"_limit{args.limit}" if args.limit else ""),
        result,
        ["python", "-m", "coderl.sandbox.load_flips", *(sys.argv[1:] if argv is None else argv)],
        out_dir=args.results_dir if args.results_dir is not None else results_dir("sandbox"),
    )
    print(f"raw result: {raw} (commit it; make docs-figures renders the table from it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
