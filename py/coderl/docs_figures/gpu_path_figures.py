"""Figures of tools/gpu_path.py (the user's whole GPU path, timed) and tools/gpu_check_varlen.py
in docs/throughput.md, from docs/gpu_path/: the 1x H200 run's own JSON (beside its full .log) and the
CPU run's, transcribed (its output was not kept).

A gpu_path file holds `stages` (stage, ok, seconds, what it showed), `train` (attempt timings, the
resume) and `eval` (seconds per checkpoint); a varlen check file holds worst_rel_err, tolerance,
weakest_control_rel_err and same_address_as_previous.
"""

from __future__ import annotations

from . import fmt
from .raw import Raw

D = "gpu_path/"
GPU = D + "2026-12-01_1xH200_gpu_path.json"
CPU = D + "2026-12-01_cpu_tiny_gpu_path_transcribed.json"
VARLEN = D + "2026-12-01_1xH200_gpu_check_varlen.json"
VARLEN_CPU = D + "2026-12-01_cpu_gpu_check_varlen_transcribed.json"


def _what(what: str) -> str:
    return what.replace("|", "\\|")


def stages(rel: str):
    def render(raw: Raw) -> str:
        rows = [
            [s["stage"], "PASS" if s["ok"] else "**FAIL**", fmt.fixed(s["seconds"], 1), _what(s["what"])]
            for s in raw.key(rel, "stages")
        ]
        total = sum(s["seconds"] for s in raw.key(rel, "stages"))
        rows.append(["sum of the stages", "", fmt.bold(fmt.fixed(total, 1)), ""])
        note = " (transcribed, the run's own output was not kept)" if "transcribed" in raw.file(rel) else ""
        return fmt.table(["stage", "result", "seconds", "what it showed"], rows) + f"\n\nRaw{note}: docs/{rel}."

    return render


def verdict(raw: Raw, rel: str) -> str:
    st = raw.key(rel, "stages")
    failed = [s["stage"] for s in st if not s["ok"]]
    return f"ALL PASS, {len(st)} stages" if not failed else f"FAILED: {', '.join(failed)}"


def when(raw: Raw, rel: str) -> str:
    a, b = raw.key(rel, "started"), raw.key(rel, "finished")
    return f"{a[:10]} {a[11:16]}-{b[11:16]} UTC"


def train(raw: Raw) -> str:
    t = raw.key(GPU, "train")
    return (
        f"Ctrl-C after the checkpoint at step {t['checkpoint_at_interrupt']}, resumed at step "
        f"{t['interrupted_at_step'] + 1} {t['resume_first_step_s_after_launch']:.1f} s after the relaunch; "
        f"{t['attempt1_s_per_step']:.2f} / {t['attempt2_s_per_step']:.2f} s/step in the two attempts"
    )


def eval_each(raw: Raw) -> str:
    s = [e["seconds"] for e in raw.key(GPU, "eval")]
    return f"{len(s)} checkpoints, {min(s):.0f}-{max(s):.0f} s each"


def varlen(raw: Raw) -> str:
    v = raw.file(VARLEN)
    return (
        f"{'PASS' if v['ok'] else 'FAIL'}, {v['micro_batches']} packed micro batches of {v['tokens_each']:,} tokens, "
        f"worst relative error {fmt.sci(v['worst_rel_err'])} against per-sample sdpa (tolerance "
        f"{fmt.sci(v['tolerance'])}), stale-boundary control {v['weakest_control_rel_err']:.3f} (the check sees the "
        f"bug), {v['same_address_as_previous']} of the batches reused the previous batch's address"
    )


def varlen_cpu(raw: Raw) -> str:
    v = raw.file(VARLEN_CPU)
    return (
        f"every batch {fmt.sci(v['worst_rel_err'])}, weakest control {v['weakest_control_rel_err']:.3f} "
        f"({v['weakest_control']}), {v['boundary_computations_per_forward']} boundary computation per forward"
    )


INLINE = {
    "gpu_path.gpu.when": lambda raw: when(raw, GPU),
    "gpu_path.gpu.verdict": lambda raw: verdict(raw, GPU),
    "gpu_path.gpu.train": train,
    "gpu_path.gpu.eval": eval_each,
    "gpu_path.cpu.when": lambda raw: when(raw, CPU),
    "gpu_path.cpu.verdict": lambda raw: verdict(raw, CPU),
    "gpu_path.varlen": varlen,
    "gpu_path.varlen_cpu": varlen_cpu,
}
TABLES = {"gpu_path.gpu.stages": stages(GPU), "gpu_path.cpu.stages": stages(CPU)}
