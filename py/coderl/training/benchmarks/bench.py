"""`make bench-train`: the runbook recipe and the project's fast recipe, side by side, on one machine.

    python -m coderl.training.benchmarks.bench --shape 7.6b --gpus 4 --steps 20
    python -m coderl.training.benchmarks.bench --shape tiny --device cpu --steps 2     (the CPU smoke of the same code)

For each recipe (coderl.training.benchmarks.bench_recipes: a delta on configs/sft.yaml or configs/sft_runbook.yaml,
mapped to verl overrides by the same code as `make train`) it runs the real verl trainer (torchrun -m verl.trainer.sft_trainer) on a
random-init Qwen2.5-shaped model with the real tokenizer and synthetic code SFT data (same data,
seed, global batch, max_length, lr schedule and loss for every recipe), timestamps the per-step
console lines, and reports s/step, tokens/s per GPU, MFU (coderl.training.benchmarks.mfu, the same count for
every recipe), verl's own MFU, peak GPU memory, the loss curves and the speed-up. `--ckpt-test`
adds one checkpoint save and a resume of the fast recipe (save time, size, resumed losses vs the
uninterrupted run). Results go to OUT/bench_results.json and OUT/bench_results.md; full logs to
OUT/logs/; the raw result with its provenance (coderl.bench_record) to docs/bench_train/.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...bench_record import write_result
from ...checkpoints import Checkpoint
from ...errors import ConfigError, TrainingError
from ...io_utils import atomic_write_json, atomic_write_text
from ...models.qwen import build_qwen2
from ..process_tree import kill_tree, with_default_sigint
from .bench_recipes import BENCH_RECIPES, bench_overrides
from .mfu import QwenShape, mfu, peak_tflops
from .mfu import shape as get_shape
from .profiled_sft import parse_window

log = logging.getLogger(__name__)

GLOBAL_BATCH = 16
MAX_LENGTH = 4096
WARMUP_STEPS = 3  # first steps pay for allocator growth, cuDNN/NCCL setup and compilation

# CPU runs: the environment coderl.training.launch sets for the CPU platform (see cpu_platform.py)
CPU_ENV = {
    "VERL_USE_EXTERNAL_MODULES": "coderl.training.in_verl.cpu_platform",
    "VERL_PLATFORM": "cpu",
    "VERL_ENGINE_DEVICE": "cuda",
    "CUDA_VISIBLE_DEVICES": "",
}

_STEP = re.compile(r"step:(\d+) - (.*)")
_KV = re.compile(r"([\w/().]+):([-+0-9.eE]+|nan|inf)")


@dataclass
class RunResult:
    recipe: str
    overrides: list[str]
    steps: dict[int, dict] = field(default_factory=dict)  # step -> metrics (+ "t": seconds since launch)
    wall_s: float = 0.0
    returncode: int | None = None
    peak_mem_gib: list[float] = field(default_factory=list)
    events: dict[str, float] = field(default_factory=dict)
    log: str = ""

    untimed: tuple[int, ...] = ()  # steps run under the profiler: slower, left out of s/step

    def step_times(self, first: int = 2) -> list[float]:
        """Duration of each step >= first (the interval since the previous step's line)."""
        ks = sorted(self.steps)
        return [
            self.steps[b]["t"] - self.steps[a]["t"] for a, b in zip(ks, ks[1:]) if b >= first and b not in self.untimed
        ]

    def summary(self, shp: QwenShape, n_gpus: int, peak: float, attn_len: float) -> dict:
        times = self.step_times(WARMUP_STEPS) or self.step_times()
        if not times:
            return {"recipe": self.recipe, "error": f"no step timings (exit code {self.returncode}); see {self.log}"}
        s_step = statistics.median(times)
        toks = [m.get("train/global_tokens", 0.0) for m in self.steps.values()]
        tok_step = sum(toks) / len(toks)
        tps = tok_step / s_step
        verl_mfu = [m["train/mfu"] for k, m in self.steps.items() if "train/mfu" in m and k > WARMUP_STEPS]
        return {
            "recipe": self.recipe,
            "s_per_step": s_step,
            "s_per_step_mean": sum(times) / len(times),
            "timed_steps": len(times),
            "tokens_per_step": tok_step,
            "tokens_per_s": tps,
            "tokens_per_s_per_gpu": tps / n_gpus,
            "mfu": mfu(shp, tps, attn_len, n_gpus, peak),
            "verl_mfu": statistics.median(verl_mfu) if verl_mfu else None,
            "peak_mem_gib_per_gpu": self.peak_mem_gib,
            "loss": {k: m.get("train/loss") for k, m in sorted(self.steps.items())},
            "exit_code": self.returncode,
            "wall_s": self.wall_s,
        }


class _GpuMemPoller(threading.Thread):
    """Peak memory.used per GPU from nvidia-smi (what the process holds, allocator cache included)."""

    def __init__(self, period_s: float = 0.5):
        super().__init__(daemon=True)
        self.period_s, self.peak, self._stop = period_s, [], threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                out = subprocess.run(
                    ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                ).stdout.split()
                vals = [float(x) / 1024 for x in out]
                self.peak = [max(a, b) for a, b in zip(self.peak, vals)] if self.peak else vals
            except (OSError, ValueError, subprocess.TimeoutExpired):
                return
            self._stop.wait(self.period_s)

    def stop(self) -> list[float]:
        self._stop.set()
        return [round(x, 1) for x in self.peak]


def launch(
    recipe: str,
    overrides: list[str],
    n_gpus: int,
    log_path: Path,
    device: str,
    stop_after_step: int | None = None,
    stop_after_save: bool = False,
    timeout_s: float = 3600,
    profile: Profile | None = None,
    command: list[str] | None = None,
    interrupt_after_save: bool = False,
) -> RunResult:
    """Run verl's SFT trainer under torchrun (or `command`, e.g. `make train`); timestamp every console step line.

    stop_after_save kills the whole tree once verl has written its checkpoint tracker;
    interrupt_after_save sends SIGINT to the process group instead (what Ctrl-C in a terminal does)
    and lets the command stop itself."""
    entry = "coderl.training.benchmarks.profiled_sft" if profile and profile.steps else "verl.trainer.sft_trainer"
    cmd = command or [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={n_gpus}",
        "-m",
        entry,
        *overrides,
    ]
    env = dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        TOKENIZERS_PARALLELISM="false",
        NCCL_NVLS_ENABLE="0",
        TORCH_SYMM_MEM_DISABLE_MULTICAST="1",
        NVSHMEM_DISABLE_NVLS="1",
    )
    if profile:
        cmd, env = profile.wrap(cmd, env, log_path.parent.parent / "profile" / recipe)
    if device == "cpu":
        env.update(CPU_ENV)
    res = RunResult(recipe=recipe, overrides=overrides, log=str(log_path), untimed=profile.window() if profile else ())
    log_path.parent.mkdir(parents=True, exist_ok=True)
    poller = _GpuMemPoller() if device == "cuda" and shutil.which("nvidia-smi") else None
    t0 = time.perf_counter()
    log.info("bench: %s: %s", recipe, " ".join(cmd))
    with open(log_path, "w", encoding="utf-8", buffering=1) as fh:  # line-buffered: readable while it runs
        fh.write(" ".join(cmd) + "\n")
        proc = subprocess.Popen(
            # SIGINT at its default as in a terminal: a bench started with nohup or `&` passes SIGINT on
            # ignored, and the interrupt would then be lost
            with_default_sigint(cmd) if interrupt_after_save else cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            bufsize=1,
            start_new_session=True,  # its own process group, for interrupt_after_save
        )
        if poller:
            poller.start()
        try:
            for line in proc.stdout:
                t = time.perf_counter() - t0
                fh.write(f"[{t:8.2f}] {line}")
                if (m := _STEP.search(line)) and "train/loss" in line:
                    step = int(m.group(1))
                    metrics = {k: float(v) for k, v in _KV.findall(m.group(2))}
                    res.steps[step] = {**metrics, "t": t}
                    if stop_after_step is not None and step >= stop_after_step:
                        kill_tree(proc, grace_s=20)
                        break
                elif "Saving checkpoint to" in line:
                    res.events.setdefault("save_start", t)
                elif "Updated checkpoint tracker" in line:
                    res.events.setdefault("save_end", t)
                    if stop_after_save:
                        kill_tree(proc, grace_s=20)
                        break
                    if interrupt_after_save and "interrupt" not in res.events:
                        res.events["interrupt"] = t
                        os.killpg(proc.pid, signal.SIGINT)
                elif "Traceback" in line or "Error" in line[:200]:
                    res.events.setdefault("first_error", t)
                if t > timeout_s:
                    kill_tree(proc, grace_s=20)
                    break
            res.returncode = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                kill_tree(proc, grace_s=20)
    res.wall_s = time.perf_counter() - t0
    if poller:
        res.peak_mem_gib = poller.stop()
    return res


@dataclass
class Profile:
    """Optional profiling of a launch: torch.profiler over a step window, py-spy over the whole run."""

    steps: str | None = None  # "A,B": profile training steps A..B on rank 0 (coderl.training.benchmarks.profiled_sft)
    py_spy: bool = False  # sample every process's Python stacks (collapsed format) with py-spy

    def window(self) -> tuple[int, ...]:
        if not self.steps:
            return ()
        a, b = parse_window(self.steps)
        return tuple(range(a, b + 1))

    def wrap(self, cmd: list[str], env: dict, out: Path) -> tuple[list[str], dict]:
        out.mkdir(parents=True, exist_ok=True)
        env = dict(env)
        if self.steps:
            env.update(CODERL_PROFILE_STEPS=self.steps, CODERL_PROFILE_OUT=str(out))
        if self.py_spy:
            spy = shutil.which("py-spy")
            if spy is None:
                raise ConfigError("--py-spy: py-spy is not on PATH; pip install py-spy (a wheel for offline boxes)")
            # --nonblocking: never pause the GPU-driving processes to sample them
            cmd = [
                spy,
                "record",
                "--subprocesses",
                "--idle",
                "--nonblocking",
                "--rate",
                "50",
                "--format",
                "raw",
                "-o",
                str(out / "py_spy.txt"),
                "--",
                *cmd,
            ]
        return cmd, env


def build_model(shp: QwenShape, out: Path, device: str) -> Path:
    """A random-init model of the shape, bf16 safetensors, with the real Qwen tokenizer (reused when present)."""
    if (out / "config.json").is_file() and any(out.glob("*.safetensors")):
        return out
    import torch

    t0 = time.perf_counter()
    build_qwen2(out, shp, dtype="bfloat16", device="cuda" if device == "cuda" and torch.cuda.is_available() else "cpu")
    log.info(
        "bench: built random-init %s (%.2fB params) in %.0f s",
        shp.name,
        shp.params()["total"] / 1e9,
        time.perf_counter() - t0,
    )
    return out


def build_data(
    out: Path, n: int, seed: int = 0, mean_tokens: int = 1343, max_length: int = MAX_LENGTH
) -> tuple[Path, dict]:
    from ...models.tokenizer import load_qwen_tokenizer
    from .synthetic import SyntheticSpec, length_stats, make_samples, write_sft_parquet

    meta_path = out / "train.meta.json"
    if meta_path.is_file() and (out / "train.parquet").is_file():
        meta = json.loads(meta_path.read_text())
        if (meta.get("n"), meta.get("seed"), meta.get("spec_mean"), meta.get("max_length")) == (
            n,
            seed,
            mean_tokens,
            max_length,
        ):
            return out / "train.parquet", meta
    spec = SyntheticSpec(n=n, seed=seed, mean_tokens=mean_tokens, max_length=max_length)
    rows, lengths = make_samples(load_qwen_tokenizer(), spec)
    path = write_sft_parquet(out / "train.parquet", rows)
    meta = {**length_stats(lengths), "seed": seed, "spec_mean": mean_tokens, "max_length": max_length}
    atomic_write_json(meta_path, meta)
    return path, meta


def ckpt_test(
    model: Path,
    data: Path,
    n_gpus: int,
    steps: int,
    tok: int,
    out: Path,
    device: str,
    save_at: int,
    reference: RunResult | None,
) -> dict:
    """Save one full checkpoint at step save_at (killed right after), resume, compare the next 2 losses."""
    ckdir = out / "ckpt_test"
    shutil.rmtree(ckdir, ignore_errors=True)

    def overrides(pins: dict[str, str]) -> list[str]:
        return bench_overrides(
            "default",
            model=model,
            data=data,
            n_gpus=n_gpus,
            steps=steps,
            ckpt_dir=ckdir,
            device=device,
            tok_per_gpu=tok,
            pins=pins,
        )

    a = launch(
        "ckpt_save",
        overrides(
            {
                "checkpoint.save_contents": "[model,optimizer,extra,hf_model]",
                "trainer.save_freq": str(save_at),
                "trainer.resume_mode": "disable",
            }
        ),
        n_gpus,
        out / "logs" / "ckpt_save.log",
        device,
        stop_after_save=True,
    )
    ck = Checkpoint.at(ckdir, save_at)
    size = ck.size_bytes() if ck.path.is_dir() else 0
    hf = ck.export_dir
    hf_size = sum(f.stat().st_size for f in hf.rglob("*") if f.is_file()) if hf.is_dir() else 0
    b = launch(
        "ckpt_resume",
        overrides({"checkpoint.load_contents": "[model,optimizer,extra]", "trainer.resume_mode": "auto"}),
        n_gpus,
        out / "logs" / "ckpt_resume.log",
        device,
        stop_after_step=save_at + 2,
    )
    res = {
        "save_at_step": save_at,
        "save_s": (a.events.get("save_end", 0) - a.events.get("save_start", 0)) or None,
        "ckpt_bytes": size,
        "hf_export_bytes": hf_size,
        "resume_first_step_s": min((m["t"] for m in b.steps.values()), default=None),
        "resumed_steps": {k: m.get("train/loss") for k, m in sorted(b.steps.items())},
        "save_log": a.log,
        "resume_log": b.log,
        "save_peak_mem_gib": a.peak_mem_gib,
    }
    if reference is not None:
        res["uninterrupted"] = {k: reference.steps.get(k, {}).get("train/loss") for k in res["resumed_steps"]}
    return res


def render_markdown(report: dict) -> str:
    env = report["env"]
    lines = [
        f"### {report['shape']} on {report['n_gpus']}x {env.get('gpu', report['device'])} ({report['date']})",
        "",
        f"torch {env.get('torch')}, verl {env.get('verl')}, transformers {env.get('transformers')}; "
        f"data: {report['data']['n']} synthetic samples, mean {report['data']['mean']:.0f} tokens, "
        f"max {report['data']['max']}, global batch {report.get('global_batch', GLOBAL_BATCH)}; MFU peak {report['peak_tflops']} TFLOP/s "
        f"bf16 dense per GPU; timed steps after {WARMUP_STEPS - 1} warm-up steps (median)",
        "",
        "| recipe | attention | s/step | tokens/s/GPU | MFU (ours) | MFU (verl) | peak mem/GPU GiB | speed-up |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = next((r for r in report["results"] if r["recipe"] == "runbook" and "s_per_step" in r), None)
    for r in report["results"]:
        if "s_per_step" not in r:
            lines.append(f"| {r['recipe']} | | failed: {r.get('error')} | | | | | |")
            continue
        attn = next((o.split("=", 1)[1] for o in r["overrides"] if "attn_implementation" in o), "?")
        up = f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}x" if base else ""
        vm = f"{r['verl_mfu']:.1%}" if r.get("verl_mfu") is not None else ""
        lines.append(
            f"| {r['recipe']} | {attn} | {r['s_per_step']:.2f} | {r['tokens_per_s_per_gpu']:.0f} | "
            f"{r['mfu']:.1%} | {vm} | {max(r['peak_mem_gib_per_gpu'] or [0]):.1f} | {up} |"
        )
    lines += [
        "",
        "Loss per step (same data and seed):",
        "",
        "| step | " + " | ".join(r["recipe"] for r in report["results"] if "loss" in r) + " |",
        "|---|" + "---|" * sum(1 for r in report["results"] if "loss" in r),
    ]
    steps = sorted({int(k) for r in report["results"] for k in r.get("loss", {})})
    for s in steps:
        vals = [r["loss"].get(s, r["loss"].get(str(s))) for r in report["results"] if "loss" in r]
        lines.append(f"| {s} | " + " | ".join(f"{v:.4f}" if v is not None else "" for v in vals) + " |")
    if "ckpt" in report:
        c = report["ckpt"]
        lines += [
            "",
            f"Checkpoint (default recipe, step {c['save_at_step']}, model+optimizer+extra+hf_model): "
            f"{c['ckpt_bytes'] / 1e9:.1f} GB (HF export {c['hf_export_bytes'] / 1e9:.1f} GB), saved in "
            f"{c['save_s'] or float('nan'):.0f} s; resumed losses {c['resumed_steps']} vs uninterrupted "
            f"{c.get('uninterrupted')}",
        ]
    return "\n".join(lines) + "\n"


def _env(device: str) -> dict:
    import torch

    env = {"torch": torch.__version__, "python": sys.version.split()[0]}
    for mod in ("verl", "transformers", "liger_kernel"):
        try:
            env[mod] = __import__(mod).__version__ if mod != "liger_kernel" else "present"
        except Exception:  # noqa: BLE001 - report what is missing, don't fail the bench
            env[mod] = None
    if device == "cuda" and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
        env["gpu_count"] = torch.cuda.device_count()
    return env


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shape", default=None, help="0.5b, 7.6b or tiny (default: 0.5b for 1 GPU, 7.6b for more)")
    p.add_argument("--gpus", type=int, default=None, help="processes (default: all visible GPUs, 1 on CPU)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument(
        "--recipes",
        default="runbook,default",
        help=f"comma list from {', '.join(BENCH_RECIPES)} (coderl.training.benchmarks.bench_recipes)",
    )
    p.add_argument(
        "--max-token-len-per-gpu",
        type=int,
        default=None,
        help="dynamic-batch token budget per micro batch (default: 16384 on GPU)",
    )
    p.add_argument("--device", choices=("cuda", "cpu"), default=None)
    p.add_argument("--out", default="outputs/bench_train")
    p.add_argument(
        "--results-dir",
        default=None,
        help="where the raw result (with machine, date, versions, command) goes (default: docs/bench_train)",
    )
    p.add_argument("--model-dir", default=None, help="reuse/build the random-init model here")
    p.add_argument("--ckpt-test", action="store_true", help="also save one full checkpoint and resume from it")
    p.add_argument("--ckpt-only", action="store_true", help="only the checkpoint save/resume (reference from --out)")
    p.add_argument("--save-at", type=int, default=2)
    p.add_argument("--peak-tflops", type=float, default=None, help="override the card's bf16 dense peak")
    # the runbook's workload by default; smaller only for CPU smoke runs (not comparable to GPU rows)
    p.add_argument(
        "--profile-steps",
        default=None,
        metavar="A,B",
        help="torch.profiler over training steps A..B on rank 0: OUT/profile/<recipe>/profile_summary.txt",
    )
    p.add_argument("--py-spy", action="store_true", help="also record every process's Python stacks with py-spy")
    p.add_argument("--global-batch", type=int, default=GLOBAL_BATCH)
    p.add_argument("--max-length", type=int, default=MAX_LENGTH)
    p.add_argument("--mean-tokens", type=int, default=1343)


def run(args: argparse.Namespace) -> int:
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    n_gpus = args.gpus or (torch.cuda.device_count() if device == "cuda" else 1)
    if device == "cuda" and (n_gpus < 1 or n_gpus > torch.cuda.device_count()):
        raise ConfigError(f"--gpus {n_gpus}: this machine has {torch.cuda.device_count()} CUDA devices")
    shp = get_shape(args.shape or ("0.5b" if n_gpus == 1 else "7.6b"))
    env = _env(device)
    if args.peak_tflops:
        peak_name, peak = "given", args.peak_tflops
    else:
        peak_name, peak = peak_tflops(env.get("gpu", "cpu"))
    tok = args.max_token_len_per_gpu or (16384 if device == "cuda" else 8192)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gb, ml = getattr(args, "global_batch", GLOBAL_BATCH), getattr(args, "max_length", MAX_LENGTH)
    samples = gb * (args.steps + 2)
    data, meta = build_data(out / "data", samples, mean_tokens=getattr(args, "mean_tokens", 1343), max_length=ml)
    model = build_model(
        shp, Path(args.model_dir) if args.model_dir else out / f"model_{args.shape or shp.name}", device
    )
    report = {
        "shape": shp.name,
        "n_gpus": n_gpus,
        "device": device,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "env": env,
        "peak_tflops": peak,
        "peak_source": peak_name,
        "data": meta,
        "steps": args.steps,
        "max_token_len_per_gpu": tok,
        "global_batch": gb,
        "max_length": ml,
        "results": [],
    }
    results_path = out / "bench_results.json"
    runs: dict[str, RunResult] = {}
    recipes = [] if args.ckpt_only else [r.strip() for r in args.recipes.split(",") if r.strip()]
    unknown = [r for r in recipes if r not in BENCH_RECIPES]
    if unknown:
        raise ConfigError(f"unknown recipe '{unknown[0]}'; choose from {', '.join(BENCH_RECIPES)}")
    for name in recipes:
        overrides = bench_overrides(
            name,
            model=model,
            data=data,
            n_gpus=n_gpus,
            steps=args.steps,
            ckpt_dir=out / "ckpt" / name,
            device=device,
            tok_per_gpu=tok,
            global_batch=gb,
            max_length=ml,
        )
        prof = Profile(args.profile_steps, args.py_spy) if (args.profile_steps or args.py_spy) else None
        runs[name] = res = launch(name, overrides, n_gpus, out / "logs" / f"{name}.log", device, profile=prof)
        summ = {**res.summary(shp, n_gpus, peak, meta["attn_len"]), "overrides": overrides}
        report["results"].append(summ)
        atomic_write_json(results_path, report)  # after every recipe: a killed bench keeps what it measured
        if "s_per_step" in summ:
            print(
                f"bench: {name}: {summ['s_per_step']:.2f} s/step, {summ['tokens_per_s_per_gpu']:.0f} tokens/s/GPU, "
                f"MFU {summ['mfu']:.1%}, peak {max(summ['peak_mem_gib_per_gpu'] or [0]):.1f} GiB",
                flush=True,
            )
        else:
            print(f"bench: {name}: FAILED (exit {res.returncode}); log: {res.log}", flush=True)
    if args.ckpt_test or args.ckpt_only:
        ref = runs.get("default")
        if ref is None and results_path.is_file():  # --ckpt-only after an earlier bench in the same --out
            prev = json.loads(results_path.read_text())
            report["results"] = prev.get("results", [])
            r0 = next((r for r in report["results"] if r["recipe"] == "default"), None)
            if r0:
                ref = RunResult("default", [], steps={int(k): {"train/loss": v} for k, v in r0["loss"].items()})
        report["ckpt"] = ckpt_test(model, data, n_gpus, args.steps, tok, out, device, args.save_at, ref)
        atomic_write_json(results_path, report)
    md = render_markdown(report)
    atomic_write_text(out / "bench_results.md", md)
    print(md)
    raw = write_result(
        "train",
        result_name(report, args),
        report,
        getattr(args, "argv", None) or sys.argv,
        out_dir=getattr(args, "results_dir", None),
    )
    print(f"bench: raw result {raw} (commit it; make docs-figures renders the tables from it)", flush=True)
    ok = all("s_per_step" in r for r in report["results"])
    return 0 if ok else 1


def result_name(report: dict, args: argparse.Namespace) -> str:
    """File stem of the raw result: shape, machine and recipes, e.g. 7.6b_2xH200_runbook_vs_default."""
    gpu = report["env"].get("gpu") or report["device"]
    card = next((w for w in gpu.split() if w[:1] in "ABHL" and any(c.isdigit() for c in w)), gpu.split()[-1])
    recipes = "_vs_".join(r["recipe"] for r in report["results"]) or "ckpt"
    return f"{args.shape or report['shape']}_{report['n_gpus']}x{card}_{recipes}".replace("/", "-")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    p = argparse.ArgumentParser(prog="python -m coderl.training.benchmarks.bench", description=__doc__.splitlines()[0])
    add_arguments(p)
    try:
        args = p.parse_args(argv)
        args.argv = ["python", "-m", "coderl.training.benchmarks.bench", *(sys.argv[1:] if argv is None else argv)]
        return run(args)
    except (ConfigError, TrainingError) as e:
        print(f"bench-train: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
