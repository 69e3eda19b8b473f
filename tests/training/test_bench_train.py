"""make bench-train: MFU counting, recipe overrides, console parsing, and a real 2-recipe run on CPU."""

from __future__ import annotations

import argparse
import time

import pytest

from coderl.errors import ConfigError
from coderl.training.benchmarks import bench
from coderl.training.benchmarks.mfu import SHAPES, mfu, peak_tflops, shape, step_flops


def test_shapes_match_published_parameter_counts():
    # Qwen2.5-0.5B: 494M parameters; Qwen2.5-(Coder-)7B: 7.61B (model cards)
    assert abs(SHAPES["0.5b"].params()["total"] / 1e9 - 0.494) < 0.001
    assert abs(SHAPES["7.6b"].params()["total"] / 1e9 - 7.616) < 0.001
    with pytest.raises(ConfigError, match="unknown model shape"):
        shape("13b")


def test_mfu_counts_matmuls_and_causal_attention():
    s = SHAPES["7.6b"]
    n = s.params()["matmul"]
    # one 4096-token sample: 6*N*T plus 6*L*d*T^2
    assert step_flops(s, 4096, 4096**2) == pytest.approx(6 * n * 4096 + 6 * 28 * 3584 * 4096**2)
    # 1 GPU at peak running exactly peak/flops_per_token tokens/s is 100% MFU
    per_tok = 6 * n + 6 * 28 * 3584 * 2000.0
    assert mfu(s, 989e12 / per_tok, 2000.0, 1, 989.0) == pytest.approx(1.0)
    assert peak_tflops("NVIDIA H100 80GB HBM3") == ("H100", 989.0)
    with pytest.raises(ConfigError, match="no bf16 peak"):
        peak_tflops("Mystery GPU 9000")


def test_bench_recipes_are_deltas_mapped_like_make_train():
    from pathlib import Path

    from coderl.training.benchmarks.bench_recipes import BENCH_RECIPES, bench_overrides

    kw = dict(
        model=Path("/m"),
        data=Path("/d.parquet"),
        n_gpus=2,
        steps=20,
        ckpt_dir=Path("/c"),
        device="cuda",
        tok_per_gpu=16384,
    )
    df = bench_overrides("default", **kw)
    assert "+model.override_config.attn_implementation=coderl_varlen" in df
    assert "data.max_token_len_per_gpu=16384" in df and "data.use_dynamic_bsz=true" in df
    assert (
        "model.external_lib=[coderl.training.in_verl.stock_export,coderl.training.in_verl.varlen_attn,"
        "coderl.training.in_verl.fast_logprobs,coderl.training.in_verl.token_balanced_dp]"
    ) in df
    # the bench's pins replace the recipe's values instead of passing hydra two
    keys = [o.split("=", 1)[0] for o in df]
    assert len(keys) == len(set(keys))
    assert "trainer.save_freq=-1" in df and "checkpoint.save_contents=[extra]" in df and "trainer.total_epochs=1" in df
    rb = bench_overrides("runbook", **kw)
    assert "+model.override_config.attn_implementation=sdpa" in rb and "model.use_remove_padding=false" in rb
    old = bench_overrides("default_rowloop", **kw)
    assert [o for o in old if o.startswith("model.external_lib")] == [
        "model.external_lib=[coderl.training.in_verl.stock_export,coderl.training.in_verl.varlen_attn]"
    ]
    cpu = bench_overrides("default", **{**kw, "device": "cpu"})
    assert "+model.override_config.attn_implementation=sdpa" in cpu and "model.use_liger=false" in cpu
    assert all(d.get("base") in ("default", "runbook") for d in BENCH_RECIPES.values())
    with pytest.raises(ConfigError, match="unknown recipe"):
        bench_overrides("turbo", **kw)


def test_console_step_line_parsing():
    line = "step:7 - train/loss:0.812 - train/grad_norm:1.5e+00 - train/lr:2e-05 - train/mfu:0.31 - train/global_tokens:21504"
    m = bench._STEP.search(line)
    metrics = {k: float(v) for k, v in bench._KV.findall(m.group(2))}
    assert int(m.group(1)) == 7
    assert metrics == {
        "train/loss": 0.812,
        "train/grad_norm": 1.5,
        "train/lr": 2e-5,
        "train/mfu": 0.31,
        "train/global_tokens": 21504.0,
    }
    r = bench.RunResult("x", [], steps={i: {"t": 10.0 + 2 * i, "train/global_tokens": 1000.0} for i in range(1, 7)})
    summ = r.summary(SHAPES["tiny"], 1, 1.0, 100.0)
    assert summ["s_per_step"] == pytest.approx(2.0) and summ["tokens_per_s"] == pytest.approx(500.0)
    # steps run under the profiler are left out of the timing
    r.steps[5]["t"] += 30.0
    r.steps[6]["t"] += 30.0
    r.untimed = bench.Profile(steps="5,5").window()
    assert r.step_times(3) == pytest.approx([2.0, 2.0, 2.0])


@pytest.mark.slow
def test_bench_runs_both_recipes_on_cpu(tmp_path):
    """The real verl trainer, both recipes, 2 steps of a tiny model: timings reported, same losses."""
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    # the CPU smoke shrinks the workload: 152k-vocab logits of 16 x 1.3k tokens would dominate on CPU
    args = p.parse_args(
        [
            "--shape",
            "tiny",
            "--device",
            "cpu",
            "--steps",
            "2",
            "--out",
            str(tmp_path),
            "--recipes",
            "runbook,default",
            "--global-batch",
            "4",
            "--max-length",
            "384",
            "--mean-tokens",
            "160",
            "--results-dir",
            str(tmp_path / "raw"),
        ]
    )
    args.argv = ["python", "-m", "coderl.training.benchmarks.bench", "--shape", "tiny"]
    rc = bench.run(args)
    import json

    report = json.loads((tmp_path / "bench_results.json").read_text())
    assert rc == 0, report
    res = {r["recipe"]: r for r in report["results"]}
    for name in ("runbook", "default"):
        assert res[name]["s_per_step"] > 0 and res[name]["tokens_per_step"] > 0
        assert len(res[name]["loss"]) == 2
    # identical data and math: the first step's loss (before any update) agrees to bf16 noise
    l0 = {n: res[n]["loss"]["1"] for n in res}
    assert abs(l0["runbook"] - l0["default"]) / l0["runbook"] < 2e-2, l0
    assert "| runbook |" in (tmp_path / "bench_results.md").read_text()
    # the raw result for docs/bench_train: same numbers plus where and how they were made
    (raw,) = (tmp_path / "raw").glob("*_tiny_1xcpu_runbook_vs_default.json")
    kept = json.loads(raw.read_text())
    assert kept["results"] == report["results"]
    assert kept["record"]["command"] == "python -m coderl.training.benchmarks.bench --shape tiny"
    assert kept["record"]["versions"]["verl"] and kept["record"]["machine"]["cpus"] >= 1


def test_varlen_attention_registers_and_finds_sample_boundaries():
    import torch
    from transformers import AttentionInterface

    from coderl.errors import TrainingError
    from coderl.training.in_verl import varlen_attn

    assert varlen_attn.NAME in AttentionInterface._global_mapping
    varlen_attn._cache.clear()
    pos = torch.tensor([[0, 1, 2, 3, 0, 1, 0, 1, 2]])
    cu, max_len = varlen_attn._cu_seqlens(pos)
    assert cu.tolist() == [0, 4, 6, 9] and max_len == 4
    q = torch.zeros(1, 2, 9, 8)
    with pytest.raises(TrainingError, match="use_remove_padding"):
        varlen_attn.varlen_attention_forward(None, q, q, q, torch.ones(1, 1, 9, 9, dtype=torch.bool), position_ids=pos)


def test_launch_runs_a_command_and_interrupts_it_like_ctrl_c(tmp_path):
    """The path tools/train_acceptance.py drives `make train` through: SIGINT to the group after the save,
    also from a bench started in the background (nohup, `&`), whose children inherit SIGINT ignored."""
    import signal
    import sys
    import textwrap

    prog = tmp_path / "fake_train.py"
    prog.write_text(
        textwrap.dedent("""
        import sys, time
        try:  # Python's own SIGINT handling, as the real trainer has it
            for i in (1, 2):
                print(f"step:{i} - train/loss:{3.0 - i} - train/global_tokens:100", flush=True)
            print("Saving checkpoint to /x/global_step_2", flush=True)
            print("Updated checkpoint tracker", flush=True)
            time.sleep(60)
            print("never reached", flush=True)
        except KeyboardInterrupt:
            print("interrupted cleanly", flush=True)
            sys.exit(130)
    """)
    )
    t0 = time.monotonic()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a bench started with `&`
    try:
        res = bench.launch(
            "fake", [], 1, tmp_path / "fake.log", "cpu", command=[sys.executable, str(prog)], interrupt_after_save=True
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - t0 < 30
    assert res.returncode == 130 and sorted(res.steps) == [1, 2] and res.steps[2]["train/loss"] == 1.0
    assert {"save_start", "save_end", "interrupt"} <= set(res.events)
    log = (tmp_path / "fake.log").read_text()
    assert "interrupted cleanly" in log and "never reached" not in log


def test_one_shape_table_for_plan_mfu_bench_and_the_tiny_model(tiny_model_dir):
    from coderl.models import qwen
    from coderl.models.tiny import TinyQwen2Spec
    from coderl.training import plan

    assert SHAPES is qwen.SHAPES and shape("0.5b") is qwen.SHAPES["0.5b"]
    for size, key in qwen.HUB_SIZES.items():
        planned = plan.model_shape(f"Qwen/Qwen2.5-Coder-{size}-Instruct").params()
        assert planned == qwen.SHAPES[key].params()["total"], size
    assert TinyQwen2Spec().shape() == qwen.SHAPES["tiny"]
    # the builder's output is read back by the planner as the shape it was built from
    built = plan.model_shape(str(tiny_model_dir))
    assert built.params() == qwen.SHAPES["tiny"].params()["total"]
