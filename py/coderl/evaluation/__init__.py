"""Evaluation of checkpoints: one checkpoint at a tier (runner), metrics, history, selection.

Modules (global_step_* folders are found by coderl.checkpoints): outputs (the step_<N>/ layout and the
resumable caches), metrics (per-dataset numbers, docs/metrics.md), guard (infrastructure failures stop a
run), history (eval_history.jsonl), selection (best_checkpoint.json), runner (generation -> judge
-> metrics), options (what eval's options mean), all_checkpoints (every checkpoint of a run: eval-all).
The commands eval, eval-all and select are coderl.commands.eval, eval_all, select.
"""
