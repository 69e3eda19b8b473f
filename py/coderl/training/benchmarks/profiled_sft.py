"""verl's SFT trainer with torch.profiler around a window of steps (for `bench-train --profile-steps`).

    torchrun ... -m coderl.training.benchmarks.profiled_sft <the same hydra overrides as verl.trainer.sft_trainer>

Env: CODERL_PROFILE_STEPS="A,B" (1-based, inclusive), CODERL_PROFILE_OUT (folder). Rank 0 writes
profile_summary.txt (where the time of those steps went: GPU busy time, host-to-device syncs, the
ops with the most self time on CPU and on the GPU) and trace.json.gz (chrome://tracing / Perfetto).

Why wrap instead of verl's own `profiler.*` config: verl's torch profiler tool writes one trace per
stage under its own naming and needs several nested settings; here one env var profiles exactly
the training steps and writes a summary that fits in a terminal.
"""

from __future__ import annotations

import functools
import gzip
import os
import shutil
import time
from pathlib import Path


def parse_window(text: str) -> tuple[int, int]:
    """ "A,B" (or "A") -> (A, B): the training steps to profile, 1-based, inclusive."""
    a, _, b = text.partition(",")
    return int(a), int(b or a)


def _window() -> tuple[int, int]:
    return parse_window(os.environ.get("CODERL_PROFILE_STEPS", "5,6"))


def _busy_us(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of [start, end) intervals (GPU kernels overlap across streams)."""
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def summarize(prof, wall_s: float, n_steps: int) -> str:
    """The text a human reads first: is the GPU busy, and if not, what the host is doing."""
    import torch

    kernels, syncs = [], {}
    for ev in prof.events():
        if ev.device_type == torch.autograd.DeviceType.CUDA:
            kernels.append((ev.time_range.start, ev.time_range.end))
        elif any(
            k in ev.name
            for k in (
                "Synchronize",
                "cudaMemcpy",
                "aten::item",
                "aten::_local_scalar_dense",
                "aten::nonzero",
                "cudaStreamWaitEvent",
            )
        ):
            n, us = syncs.get(ev.name, (0, 0.0))
            syncs[ev.name] = (n + 1, us + ev.cpu_time_total)
    busy = _busy_us(kernels) / 1e6
    lines = [
        f"profiled steps: {n_steps}, wall {wall_s:.3f} s ({wall_s / max(n_steps, 1):.3f} s/step)",
        f"GPU busy (union of kernel intervals): {busy:.3f} s = {busy / wall_s:.1%} of the wall time",
        "",
        "host syncs and copies (count, total ms):",
    ]
    for name, (n, us) in sorted(syncs.items(), key=lambda kv: -kv[1][1])[:12]:
        lines.append(f"  {name:<48} {n:>7} {us / 1e3:>10.1f}")
    ka = prof.key_averages()
    lines += [
        "",
        "top ops by self CPU time:",
        ka.table(sort_by="self_cpu_time_total", row_limit=35, max_name_column_width=70),
    ]
    if kernels:
        for key in ("self_device_time_total", "self_cuda_time_total"):  # the name changed across torch versions
            try:
                lines += [
                    "",
                    "top ops by self device time:",
                    ka.table(sort_by=key, row_limit=25, max_name_column_width=70),
                ]
                break
            except (AttributeError, KeyError, ValueError):
                continue
    return "\n".join(lines)


def install(out: Path) -> None:
    """Wrap TrainingWorker.train_batch: start the profiler at step A, stop and write after step B."""
    import torch
    from verl.workers.engine_workers import TrainingWorker

    first, last = _window()
    rank = int(os.environ.get("RANK", "0"))
    orig = TrainingWorker.train_batch
    state = {"step": 0, "prof": None, "t0": 0.0}

    @functools.wraps(orig)
    def train_batch(self, data):
        state["step"] += 1
        step = state["step"]
        if step == first and rank == 0:
            acts = [torch.profiler.ProfilerActivity.CPU]
            if torch.cuda.is_available():
                acts.append(torch.profiler.ProfilerActivity.CUDA)
                torch.cuda.synchronize()
            state["prof"] = torch.profiler.profile(activities=acts, record_shapes=False, with_stack=False)
            state["prof"].__enter__()
            state["t0"] = time.perf_counter()
        output = orig(self, data)
        if step == last and state["prof"] is not None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            wall = time.perf_counter() - state["t0"]
            prof, state["prof"] = state["prof"], None
            try:  # a profiler problem must never cost the training run
                prof.__exit__(None, None, None)
                out.mkdir(parents=True, exist_ok=True)
                (out / "profile_summary.txt").write_text(summarize(prof, wall, last - first + 1))
                raw = out / "trace.json"
                prof.export_chrome_trace(str(raw))
                with open(raw, "rb") as src, gzip.open(out / "trace.json.gz", "wb", compresslevel=6) as dst:
                    shutil.copyfileobj(src, dst)
                raw.unlink()
                print(f"profiled_sft: steps {first}-{last} written to {out}", flush=True)
            except Exception as e:  # noqa: BLE001
                print(f"profiled_sft: profile not written: {type(e).__name__}: {e}", flush=True)
        return output

    TrainingWorker.train_batch = train_batch


def main() -> None:
    install(Path(os.environ.get("CODERL_PROFILE_OUT", "outputs/profile")))
    from verl.trainer.sft_trainer import main as sft_main

    sft_main()


if __name__ == "__main__":
    main()
