"""The demo (`coderl demo`): the whole pipeline at toy scale on a CPU, with the real components.

tiny random-init Qwen2 (real Qwen tokenizer) -> toy SFT data through prepare_sft -> verl SFT on
CPU (coderl.training.launch.train) -> every checkpoint, step 0 included, evaluated with the hf
backend and the embedded sandbox (coderl.evaluation.runner) -> coderl report.

Everything goes under outputs/demo and checkpoints/demo (configurable), under the demo eval
profile (configs/demo/eval.yaml: `profile: demo`, its own fingerprint). A re-run starts over:
both folders are deleted first, but only when they hold the demo's marker file (a folder the demo
did not create is never deleted).
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from .errors import ConfigError, TrainingError

log = logging.getLogger(__name__)

PHASE = "demo_sft"
MARKER = ".coderl_demo"  # written into both demo folders; only folders holding it are ever cleaned
TINY_SPEC = dict(
    hidden_size=256, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1, intermediate_size=512, seed=0
)  # measured to learn the toy task in ~100 steps (docs/demo.md)


def _clean(folder: Path) -> None:
    """Delete a previous demo's folder; refuse one the demo did not create."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).is_file():
            raise ConfigError(
                f"{folder} exists and was not created by coderl demo (no {MARKER} in it); the demo starts "
                f"over by deleting its folders, so pass another --out-root/--ckpt-root or move it away"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("created by coderl demo; deleted and rebuilt by the next coderl demo\n")


def _resolve(p: str) -> Path:
    from .paths import repo_root

    path = Path(p)
    return path if path.is_absolute() else repo_root() / path


def run_demo(
    out_root: str,
    ckpt_root: str,
    eval_config: str = "configs/demo/eval.yaml",
    recipe: str = "configs/demo/sft.yaml",
    steps: int | None = None,
    save_freq: int | None = None,
) -> int:
    """The whole demo (`coderl demo`), narrated on stdout; folders relative to the repository."""
    from .config import load_eval_config
    from .data.sft import prepare_sft
    from .demo_task.datasets import HUMANEVAL_SLICE, write_demo_inputs
    from .demo_task.problems import DATASET
    from .evaluation.history import history_path, record_evaluation
    from .evaluation.runner import EvalRequest, run_evaluation
    from .models.tiny import TinyQwen2Spec, build_tiny_qwen2
    from .report.build import build_report
    from .training.launch import train

    t0 = time.monotonic()
    timings: dict[str, float] = {}
    cfg = load_eval_config(_resolve(eval_config))
    if cfg.profile != "demo":
        raise ConfigError(
            f"{cfg.path}: profile is {cfg.profile!r}; the demo needs an eval config with profile: demo "
            "so that its numbers can never be mixed with real runs"
        )
    out_root, ckpt_root = _resolve(out_root), _resolve(ckpt_root)
    _clean(out_root)
    _clean(ckpt_root)
    data_dir = out_root / "data"

    def lap(name: str, since: float) -> float:
        timings[name] = round(time.monotonic() - since, 1)
        print(f"[demo] {name}: {timings[name]} s", flush=True)
        return time.monotonic()

    t = time.monotonic()
    base_model = build_tiny_qwen2(ckpt_root / "base_model", TinyQwen2Spec(**TINY_SPEC))
    paths = write_demo_inputs(data_dir, cfg)
    # n-gram decontamination cannot tell templated toy problems apart (every prompt shares its words);
    # held-out problems are disjoint from training by construction (unseen name pairs, tested).
    prepare_sft(paths["sft_input"], data_dir / "sft", val_size=64, max_length=128, decontaminate=False)
    t = lap("model and data", t)

    sft_recipe = {
        "base": str(_resolve(recipe)),
        "model": {"path": str(base_model)},
        "data": {
            "train_files": str(data_dir / "sft" / "sft_train.parquet"),
            "val_files": str(data_dir / "sft" / "sft_val.parquet"),
        },
    }
    if steps:
        sft_recipe["training"] = {"max_steps": steps}
    if save_freq:
        sft_recipe["checkpoint"] = {"save_freq": save_freq, "test_freq": save_freq}
    summary = train(sft_recipe, gpus=1, device="cpu", run_dir=ckpt_root / "sft", echo="metrics")
    if not summary.ok:
        raise TrainingError(f"demo training {summary.status} (exit code {summary.returncode}); see {summary.log_path}")
    t = lap("training (verl, CPU)", t)

    datasets = [DATASET, HUMANEVAL_SLICE]
    evaluations = [(0, base_model, base_model)] + [
        (step, hf, hf.parent) for step, hf in zip(summary.checkpoints, summary.hf_dirs())
    ]
    rows = {}
    for step, model_dir, checkpoint in evaluations:
        req = EvalRequest(
            model=str(model_dir),
            checkpoint=str(checkpoint),
            step=step,
            phase=PHASE,
            tier=1,
            datasets=datasets,
            out_root=out_root,
            backend="hf",
            sandbox="local",
            raw_dir=data_dir / "raw",
            manifests_dir=data_dir / "manifests",
            # several prompts per forward pass: same greedy answers in fp32 (tests/generation/test_hf_backend.py)
            backend_opts={"batch_size": int(cfg.serving["concurrency"])},
        )
        rows[step] = run_evaluation(req, cfg)
        if step == 0:
            # the untrained model is the demo's Phase 0: the report compares the best checkpoint with it
            record_evaluation(history_path(out_root, "phase0"), {**rows[0], "phase": "phase0"})
        acc = rows[step]["scores"][DATASET]["accepted_at_1"]
        print(f"[demo] step {step}: {DATASET} accepted@1 {100 * acc:.1f}%", flush=True)
    t = lap("evaluation (hf backend, local sandbox)", t)

    report_dir = out_root / "report"
    report = build_report(
        out_root,
        report_dir,
        cfg.selection,
        phases=[PHASE],
        train_log=ckpt_root / "sft" / "metrics.jsonl",
        config_fingerprint=cfg.fingerprint(),
        title="coderl DEMO report (toy profile: tiny random-init model, not comparable to real runs)",
    )
    lap("report", t)
    print(report.text)
    first, last = min(rows), max(rows)
    acc0, acc1 = (rows[s]["scores"][DATASET]["accepted_at_1"] for s in (first, last))
    total = round(time.monotonic() - t0, 1)
    _write_summary(out_root, rows, timings, total, report_dir)
    print(
        f"\n[demo] {DATASET} accepted@1: step {first} {100 * acc0:.1f}% -> step {last} {100 * acc1:.1f}% "
        f"(the HumanEval slice stays near 0 for a tiny model)"
    )
    print(f"[demo] report: {report_dir / 'report.md'}")
    print(f"[demo] done in {total} s")
    return 0


def _write_summary(out_root: Path, rows: dict, timings: dict, total: float, report_dir: Path) -> None:
    from .io_utils import atomic_write_json

    atomic_write_json(
        out_root / "demo_summary.json",
        {
            "profile": "demo",
            "phase": PHASE,
            "wall_s": total,
            "timings_s": timings,
            "report": str(report_dir / "report.md"),
            "scores": {str(s): r["scores"] for s, r in sorted(rows.items())},
            "eval_fingerprint": {str(s): r["eval_fingerprint"] for s, r in rows.items()},
        },
    )
