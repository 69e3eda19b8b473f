"""`make bench-eval` (python -m coderl.evaluation.bench_eval): eval-all of 4 tiny-model checkpoints,
one at a time against --gpus 4 (Ray tasks; on a CPU box the GPUs are placeholders), per backend.

Each run is a fresh `coderl eval-all` process into its own output folder (nothing cached), timed from
start to exit, Ray's start included. Also checks that both runs wrote the same history rows (apart
from timestamps). Writes its raw result through coderl.bench_record (docs/bench_eval/<date>_<name>.json:
machine, date, versions, command line in its `record`); `make docs-figures` renders docs/performance.md's
table from it (coderl.docs_figures.eval_figures).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..bench_record import write_result
from ..paths import repo_root

STEPS = (10, 20, 30, 40)


def _setup(work: Path, max_new_tokens: int) -> tuple[Path, Path, Path]:
    """A checkpoint root with 4 global_step_N/huggingface links to one tiny model, humaneval + mbpp_reg raw
    files, and a config: tier 1 humaneval, tier 3 humaneval + mbpp_reg, short generations."""
    import yaml

    from ..cli import main
    from ..models.tiny import build_tiny_qwen2

    model = build_tiny_qwen2(work / "tiny")
    root = work / "ck"
    for s in STEPS:
        (root / f"global_step_{s}").mkdir(parents=True)
        (root / f"global_step_{s}" / "huggingface").symlink_to(model)
    raw = work / "raw"
    if main(["data", "--datasets", "humaneval,mbpp_reg", "--raw-dir", str(raw), "--offline"]) != 0:
        raise SystemExit("could not build humaneval/mbpp_reg offline (mbpp_reg needs mbpp.jsonl in CODERL_SHARED_DATA)")
    cfgd = work / "configs"
    cfgd.mkdir()
    src = repo_root() / "configs"
    shutil.copy(src / "prompts.yaml", cfgd / "prompts.yaml")
    text = (src / "eval.yaml").read_text().replace("dataset: codecontests_valid", "dataset: humaneval")
    (cfgd / "eval.yaml").write_text(text.replace("max_new_tokens: 2048", f"max_new_tokens: {max_new_tokens}"))
    ds = yaml.safe_load((src / "datasets.yaml").read_text())
    ds["tiers"] = {1: ["humaneval"], 3: ["humaneval", "mbpp_reg"]}
    (cfgd / "datasets.yaml").write_text(yaml.safe_dump(ds))
    return root, raw, cfgd / "eval.yaml"


def _run(cmd: list[str]) -> float:
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout[-3000:]}")
    return wall


def _rows(out: Path) -> list[dict]:
    rows = [json.loads(x) for x in (out / "phase1_sft" / "eval_history.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "timestamp"} for r in rows]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="hf,oracle")
    ap.add_argument("--limit", type=int, default=8, help="problems per dataset (default 8)")
    ap.add_argument("--max-new-tokens", type=int, default=16, help="tiny-model answers are noise: short (default 16)")
    ap.add_argument("--gpus", type=int, default=4)
    ap.add_argument(
        "--results-dir",
        default=None,
        help="where the raw result (with machine, date, versions, command) goes (default: docs/bench_eval)",
    )
    args = ap.parse_args(argv)
    # machine, date, versions and the command line go in the raw file's `record` block (bench_record)
    result = {
        "benchmark": "eval-all sequential vs --gpus N (Ray tasks)",
        "load_average_start": os.getloadavg(),
        "checkpoints": len(STEPS),
        "limit": args.limit,
        "max_new_tokens": args.max_new_tokens,
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="coderl-bench-eval-") as tmp:
        root, raw, cfg = _setup(Path(tmp), args.max_new_tokens)
        for backend in args.backends.split(","):
            walls, rows = {}, {}
            for mode, extra in (("sequential", []), (f"gpus{args.gpus}", ["--gpus", str(args.gpus)])):
                out = Path(tmp) / f"out_{backend}_{mode}"
                cmd = [
                    sys.executable,
                    "-m",
                    "coderl",
                    "eval-all",
                    "--ckpt-root",
                    str(root),
                    "--backend",
                    backend,
                    "--limit",
                    str(args.limit),
                    "--eval-config",
                    str(cfg),
                    "--raw-dir",
                    str(raw),
                    "--out-root",
                    str(out),
                    *extra,
                ]
                walls[mode] = _run(cmd)
                rows[mode] = _rows(out)
                run = {
                    "backend": backend,
                    "mode": mode,
                    "wall_s": round(walls[mode], 1),
                    "load_average_after": os.getloadavg(),
                    "command": " ".join(cmd[1:]).replace(tmp, "$TMP"),
                }
                result["runs"].append(run)
                print(json.dumps(run), flush=True)
            seq, par = rows["sequential"], rows[f"gpus{args.gpus}"]
            result["runs"][-1]["same_history_rows_as_sequential"] = seq == par
            result["runs"][-1]["speedup_vs_sequential"] = round(walls["sequential"] / walls[f"gpus{args.gpus}"], 2)
    result["load_average_end"] = os.getloadavg()
    out = write_result(
        "eval",
        f"{len(STEPS)}ckpt_{args.backends.replace(',', '-')}_limit{args.limit}_gpus{args.gpus}",
        result,
        ["python", "-m", "coderl.evaluation.bench_eval", *(sys.argv[1:] if argv is None else argv)],
        out_dir=args.results_dir,
    )
    print("\n| backend | mode | wall (s) | speed-up | same rows |\n|---|---|---|---|---|")
    for r in result["runs"]:
        print(
            f"| {r['backend']} | {r['mode']} | {r['wall_s']} | {r.get('speedup_vs_sequential', '')} | "
            f"{r.get('same_history_rows_as_sequential', '')} |"
        )
    print(f"\nraw result: {out} (commit it; make docs-figures renders docs/performance.md's table from it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
