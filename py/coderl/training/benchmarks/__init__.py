"""`make bench-train` and what only it needs: the benchmark driver (bench), its recipe deltas
(bench_recipes), the MFU count (mfu), synthetic SFT data (synthetic) and verl's SFT trainer
under torch.profiler (profiled_sft). Nothing here runs in `make train`.
"""
