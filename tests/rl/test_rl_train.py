"""End-to-end on CPU: verl 0.9.1's GRPO trainer (main_ppo) with a tiny Qwen2, the transformers rollout
(coderl.rl.hf_rollout) and coderl.reward judging every answer in the sandbox; resume and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coderl.checkpoints import discover_checkpoints
from coderl.errors import TrainingError
from coderl.rl.data import prepare_rl
from coderl.rl.launch import rewards, rl_train
from coderl.rl.sources import read_jsonl_problems
from coderl.training.run_record import RunRecord, read_metrics

pytestmark = pytest.mark.slow

N_ANSWERS = 4


ECHO_PROGRAM = "```python\nprint(input())\n```"


def _echo_problem() -> dict:
    """A problem the program above solves: every verdict of the run is not no_code."""
    tests = [{"input": f"{w}\n", "output": f"{w}\n"} for w in ("abc", "42", "hello world", "x y z", "RL")]
    return {
        "id": "echo",
        "statement": "Read one line from standard input and print it unchanged.",
        "solution": "print(input())",
        "tests": tests,
    }


@pytest.fixture(scope="module")
def rl_data(shared_data, tmp_path_factory) -> Path:
    """Two training problems, both in every step: the echo problem and a real CodeContests one."""
    d = tmp_path_factory.mktemp("rl_data")
    rows = [json.loads(x) for x in (shared_data / "codecontests_train300.jsonl").read_text().splitlines()]
    short = [r for r in rows if len(r["statement"]) < 1200][:1]
    src = d / "in.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in [_echo_problem(), *short]) + "\n")
    prepare_rl(
        read_jsonl_problems(src),
        d,
        input_name=src.name,
        input_sha256="",
        val_size=0,
        max_prompt_length=700,
        decontaminate=False,
        validate=False,
    )
    return d


@pytest.fixture(scope="module")
def coder_model(tiny_model_dir, rl_data, tmp_path_factory) -> Path:
    """The tiny model taught (a few AdamW steps in plain torch) to answer every chat prompt with ECHO_PROGRAM,
    so the rollouts carry code the sandbox runs: a start model as SFT would hand over, not a stand-in."""
    import pyarrow.parquet as pq
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("coder")
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    prompts = [
        r["prompt"] for f in ("rl_train.parquet", "rl_val.parquet") for r in pq.read_table(rl_data / f).to_pylist()
    ]
    batches = []
    for msgs in prompts:
        p = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        ids = tok(p + ECHO_PROGRAM + "<|im_end|>", add_special_tokens=False, return_tensors="pt")["input_ids"]
        n_prompt = len(tok(p, add_special_tokens=False)["input_ids"])
        labels = ids.clone()
        labels[:, :n_prompt] = -100
        batches.append((ids, labels))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    for step in range(60):
        ids, labels = batches[step % len(batches)]
        # the output layer (152k vocabulary) only where the answer is: 60x cheaper than model(labels=...)
        n = int((labels[0] != -100).sum())
        hidden = model.model(input_ids=ids).last_hidden_state[:, -n - 1 : -1]
        logits = model.lm_head(hidden).float()
        loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels[:, -n:].reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    (out / "generation_config.json").write_text((tiny_model_dir / "generation_config.json").read_text())
    return out


def _recipe(model: Path, data: Path, steps: int) -> dict:
    return {
        "base": "default",
        "name": "tiny_rl",
        "model": {"path": str(model)},
        "data": {
            "train_files": str(data / "rl_train.parquet"),
            "val_files": None,
            "max_prompt_length": 768,
            "max_response_length": 24,
        },
        "rollout": {"n": N_ANSWERS},
        "batch": {
            "prompts_per_step": 2,
            "mini_batch_prompts": 2,
            "micro_batch_size_per_gpu": 4,
            "max_token_len_per_gpu": 4096,
        },
        "optim": {"lr": 1e-4},
        "training": {"max_steps": steps, "epochs": 2},
        "checkpoint": {"save_freq": 1, "test_freq": -1},
    }


def test_grpo_on_cpu_with_coderl_reward_then_resume(coder_model, rl_data, tmp_path):
    run_dir, dump = tmp_path / "run", tmp_path / "rollouts"
    extra = [f"trainer.rollout_data_dir={dump}"]
    first = rl_train(
        _recipe(coder_model, rl_data, 1), gpus=1, device="cpu", run_dir=run_dir, extra_overrides=extra, echo="none"
    )
    log = first.log_path.read_text()
    assert first.status == "finished", log[-4000:]
    assert first.checkpoints == [1]

    # every answer was scored by coderl.reward: verl's own dump of the step carries its verdicts
    rows = [json.loads(x) for f in sorted(dump.glob("*.jsonl")) for x in f.read_text().splitlines()]
    assert len(rows) == 2 * N_ANSWERS
    assert all(r["score"] == float(r["verdict"] == "accepted") for r in rows), rows
    # the answers carry programs and the sandbox ran them: the echo problem is solved, the real one is not
    echo = [r for r in rows if '"id":"echo"' in r["gts"]]
    other = [r for r in rows if '"id":"echo"' not in r["gts"]]
    assert len(echo) == len(other) == N_ANSWERS
    # (answers are sampled: one may carry no program, a no_code verdict with nothing run)
    assert sum(r["verdict"] == "accepted" for r in echo) >= 1, echo
    assert all(r["tests_run"] >= 1 for r in echo if r["verdict"] != "no_code"), echo
    assert not any(r["verdict"] == "accepted" for r in other), other
    m1 = read_metrics(run_dir)[1]
    assert m1["critic/score/mean"] == sum(r["score"] for r in rows) / len(rows)
    # the rollout engine generated with the trainer's weights: its token log-probs match the actor's
    assert m1["training/rollout_probs_diff_max"] < 1e-3
    assert "coderl_hf rollout: loaded" in log

    # resume: the same run dir, two steps now -> continues after step 1 in a second attempt
    second = rl_train(
        _recipe(coder_model, rl_data, 2), gpus=1, device="cpu", run_dir=run_dir, extra_overrides=extra, echo="none"
    )
    assert second.status == "finished", second.log_path.read_text()[-4000:]
    assert second.attempt == 2 and second.start_step == 1 and second.checkpoints == [1, 2]
    assert sorted(rewards(run_dir)) == [1, 2] and read_metrics(run_dir)[2]["attempt"] == 2
    assert read_metrics(run_dir)[2]["training/rollout_probs_diff_max"] < 1e-3
    rec = RunRecord.load(run_dir).data
    assert rec["kind"] == "rl" and rec["start_model"] == str(coder_model)
    assert [a["status"] for a in rec["attempts"]] == ["finished", "finished"]
    assert [p.name for p in sorted((run_dir / "logs").glob("attempt_*.log"))] == ["attempt_001.log", "attempt_002.log"]

    # evaluation finds both checkpoints' Hugging Face exports (global_step_N/actor/huggingface)
    found = discover_checkpoints(run_dir)
    assert [c.step for c in found] == [1, 2] and all(c.hf_dir is not None for c in found), found
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(found[-1].hf_dir, local_files_only=True)

    with pytest.raises(TrainingError, match="already finished"):
        rl_train(_recipe(coder_model, rl_data, 2), gpus=1, device="cpu", run_dir=run_dir, echo="none")
    longer = _recipe(coder_model, rl_data, 3)
    longer["training"]["epochs"] = 3
    with pytest.raises(TrainingError, match="written by 1 processes, this launch has 2"):
        rl_train(longer, gpus=2, device="cpu", run_dir=run_dir, echo="none")
