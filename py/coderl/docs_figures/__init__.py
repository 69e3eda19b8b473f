"""`make docs-figures`: the figures of docs/performance.md and docs/throughput.md, generated from
the committed raw results (docs/bench_*/, docs/results/, docs/gpu_path/) between `<!-- figures:NAME -->` markers.

    python -m coderl.docs_figures            rewrite the spans in place
    python -m coderl.docs_figures --check    exit 1 (with a diff) when a committed doc differs

Modules: markers (find and fill spans), raw (read raw files, typed errors), fmt (number formats),
train / train_figures (bench-train tables), sandbox_figures (bench-sandbox tables),
plan_figures (the planner's prediction beside verl's measurement), reward_figures (bench-reward),
eval_figures (bench-eval), load_flips_figures (verdicts under load), gpu_path_figures
(tools/gpu_path.py and the packed-attention check), demo_figures (make demo), registry (NAME -> renderer).
"""
