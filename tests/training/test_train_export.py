"""A default-recipe checkpoint export loads with stock transformers, nothing from coderl imported.

The real verl trainer on CPU (tiny random-init Qwen2, real Qwen tokenizer), the default recipe:
its attention override must not reach global_step_N/huggingface/config.json (a GPU run wrote
"coderl_varlen" there, which stock transformers and vLLM refuse).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from coderl.training.launch import train
from coderl.training.smoke import _hf_export
from coderl.training.toy_data import write_toy_sft

# Loads the export in a fresh interpreter that imports nothing from coderl, then proves it did not.
STOCK_LOAD = r"""
import json, sys
import torch
from transformers import AutoConfig, AutoModelForCausalLM
hf = sys.argv[1]
cfg = AutoConfig.from_pretrained(hf, local_files_only=True)
model = AutoModelForCausalLM.from_pretrained(hf, local_files_only=True, dtype=torch.float32)
with torch.no_grad():
    logits = model(input_ids=torch.tensor([[1, 2, 3, 4]])).logits
leaked = sorted(m for m in sys.modules if m.split(".")[0] == "coderl")
print(json.dumps({"finite": bool(torch.isfinite(logits).all()), "attn": model.config._attn_implementation,
                  "coderl_modules": leaked}))
"""


@pytest.mark.slow
def test_default_recipe_export_loads_with_stock_transformers(tiny_model_dir, tmp_path):
    train_file, val_file = write_toy_sft(tmp_path / "sft", n_train=8, n_val=2)
    recipe = {
        "base": "default",
        "name": "export",
        "model": {"path": str(tiny_model_dir)},
        "data": {"train_files": str(train_file), "val_files": str(val_file), "max_length": 256},
        "batch": {"global_batch_size": 4, "max_token_len_per_gpu": 1024},
        "training": {"max_steps": 1},
        "checkpoint": {"save_freq": 1, "test_freq": -1},
    }
    s = train(recipe, gpus=1, device="cpu", run_dir=tmp_path / "run", echo="none")
    assert s.status == "finished", s.log_path.read_text()[-3000:]
    hf = tmp_path / "run" / "global_step_1" / "huggingface"
    saved = json.loads((hf / "config.json").read_text())
    # the recipe's attention choice is how this trainer computed, not what the model is
    assert "attn_implementation" not in saved, saved
    assert not [k for k, v in saved.items() if "coderl" in f"{k}{v}"], saved

    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    r = subprocess.run(
        [sys.executable, "-I", "-c", STOCK_LOAD, str(hf)], capture_output=True, text=True, env=env, timeout=600
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"finite": True, "attn": out["attn"], "coderl_modules": []}
    assert out["attn"] in ("sdpa", "eager")  # transformers' own choice


def test_smoke_check_fails_an_export_that_names_a_coderl_attention(tiny_model_dir, tmp_path):
    import shutil

    hf = tmp_path / "huggingface"
    shutil.copytree(tiny_model_dir, hf)
    assert _hf_export(hf).ok
    cfg = json.loads((hf / "config.json").read_text())
    (hf / "config.json").write_text(json.dumps({**cfg, "attn_implementation": "coderl_varlen"}))
    import coderl.training.in_verl.varlen_attn  # noqa: F401  registered here, the load alone would pass

    check = _hf_export(hf)
    assert not check.ok and 'attn_implementation="coderl_varlen"' in check.detail, check.line()
