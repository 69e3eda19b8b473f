"""Evaluation of checkpoints: one checkpoint at a tier (runner), metrics, history, selection.

Modules (global_step_* folders are found by coderl.checkpoints): outputs (the step_<N>/ layout and the
resumable caches), metrics (per-dataset numbers, docs/metrics.md), guard (infrastructure failures stop a
run), history (eval_history.jsonl), selection (best_checkpoint.json), runner (generation -> judge
-> metrics), cli/all_cli/select_cli (commands eval, eval-all, select).
"""
