"""Modules verl imports inside its own processes (every torchrun rank, the Ray workers).

They are named by module path, not imported by coderl: `model.external_lib=[...]` and
`data.custom_cls.path=pkg://...` hydra overrides (coderl.training.recipe), and
VERL_USE_EXTERNAL_MODULES for the CPU platform (coderl.training.launch, coderl.rl.launch).
Each one is imported in every rank before the model is built, so each stays cheap to import:
torch, verl and coderl.errors only, never the rest of coderl (tests/training/test_in_verl_imports.py).
"""
