"""verl 0.9.1's real reward path into coderl.reward, on a DataProto of responses tokenized with the
real Qwen tokenizer.

The trainer (ray_trainer._compute_reward_colocate) calls RewardLoopManager.compute_rm_score, which
sends chunks to RewardLoopWorker actors; each loads `custom_reward_function` (pkg://coderl.reward)
into the `naive` reward manager, decodes every response and calls the function; the manager then
assembles the token-level `rm_scores`: the reward at each response's last valid token, zeros
elsewhere. The CPU test runs RewardLoopWorker in-process (the class the actor wraps) and verl's
assemble_rm_scores; the slow test runs the whole RewardLoopManager with a Ray actor.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from coderl.generation.prompts import build_messages
from coderl.reward import to_ground_truth
from coderl.sandbox import samples

QUEEN = "cluster0/1143_c_queen_2410"


@pytest.fixture(scope="module")
def rows(shared_data, eval_config):
    """(messages, response text, ground_truth, data_source, expected reward) per sample."""
    queen, sol = next(
        (p, s) for p, s in samples.codecontests_train300(shared_data / "codecontests_train300.jsonl") if p.id == QUEEN
    )
    he = samples.humaneval()[2][0]  # truncate_number
    q_gt, he_gt = to_ground_truth(queen), to_ground_truth(he)
    q_msgs, he_msgs = build_messages(queen, eval_config), build_messages(he, eval_config)
    return [
        (q_msgs, f"Here is my solution.\n\n```python\n{sol.strip()}\n```\n\nDone.", q_gt, "codecontests", 1.0),
        (q_msgs, "```python\nimport sys\nsys.stdin.read()\nprint(0)\n```", q_gt, "codecontests", 0.0),
        (q_msgs, "I am not sure how to solve this.", q_gt, "codecontests", 0.0),
        (
            he_msgs,
            "```python\ndef truncate_number(number: float) -> float:\n    return number % 1.0\n```",
            he_gt,
            "humaneval",
            1.0,
        ),
        (
            he_msgs,
            "```python\ndef truncate_number(number: float) -> float:\n    return number\n```",
            he_gt,
            "humaneval",
            0.0,
        ),
        (q_msgs, f"```python\n{sol.strip()}\n```", q_gt, "codecontests", 1.0),
    ]


def _dataproto(tokenizer, rows):
    """What the rollout hands the reward: left-padded prompts, right-padded responses ending in <|im_end|>."""
    from verl import DataProto

    pad = tokenizer.pad_token_id
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    prompts = [tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=True) for m, *_ in rows]
    prompts = [list(p["input_ids"]) if hasattr(p, "keys") else list(p) for p in prompts]
    responses = [tokenizer(text, add_special_tokens=False)["input_ids"] + [eos] for _, text, *_ in rows]
    P, R = max(map(len, prompts)), max(map(len, responses)) + 7  # every row has right padding
    prompt_ids = torch.tensor([[pad] * (P - len(p)) + p for p in prompts])
    response_ids = torch.tensor([r + [pad] * (R - len(r)) for r in responses])
    mask = torch.tensor(
        [[0] * (P - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (R - len(r)) for p, r in zip(prompts, responses)]
    )
    data = DataProto.from_dict(
        tensors={
            "prompts": prompt_ids,
            "responses": response_ids,
            "input_ids": torch.cat([prompt_ids, response_ids], 1),
            "attention_mask": mask,
        },
        non_tensors={
            "data_source": np.array([r[3] for r in rows], dtype=object),
            "reward_model": np.array([{"style": "rule", "ground_truth": r[2]} for r in rows], dtype=object),
            "extra_info": np.array([{"index": i} for i in range(len(rows))], dtype=object),
        },
    )
    return data, [len(r) for r in responses]


def _config(tokenizer_dir: str, name: str, mode: str = "binary", num_workers: int = 1):
    from omegaconf import OmegaConf

    return OmegaConf.create(
        {
            "actor_rollout_ref": {"model": {"path": tokenizer_dir, "tokenizer_path": None}},
            "reward": {
                "num_workers": num_workers,
                "custom_reward_function": {
                    "path": "pkg://coderl.reward",
                    "name": name,
                    "reward_kwargs": {"mode": mode},
                },
                "reward_manager": {"source": "register", "name": "naive", "module": {"path": None, "name": None}},
                "reward_model": {"enable": False, "enable_resource_pool": False},
            },
        }
    )


def _check_rm_scores(rm_scores: torch.Tensor, lengths: list[int], expected: list[float]) -> None:
    assert rm_scores.dtype == torch.float32 and rm_scores.shape[0] == len(expected)
    for i, (n, want) in enumerate(zip(lengths, expected)):
        assert rm_scores[i, n - 1].item() == want, (i, rm_scores[i, n - 1].item(), want)
        others = torch.cat([rm_scores[i, : n - 1], rm_scores[i, n:]])
        assert torch.count_nonzero(others) == 0, f"row {i}: reward outside the last response token"


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> str:
    from coderl.models.tokenizer import write_qwen25_tokenizer

    return str(write_qwen25_tokenizer(tmp_path_factory.mktemp("qwen_tok")))


@pytest.mark.parametrize("name", ["compute_score", "compute_score_async"])
def test_verl_reward_loop_worker_scores_the_last_response_token(qwen_tokenizer, tokenizer_dir, rows, name):
    from verl.experimental.reward_loop import RewardLoopWorker
    from verl.trainer.ppo.reward import resolve_reward_manager_cls

    config = _config(tokenizer_dir, name)
    data, lengths = _dataproto(qwen_tokenizer, rows)
    worker = RewardLoopWorker(config)
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    scores = [o["reward_score"] for o in outputs]
    expected = [r[4] for r in rows]
    assert scores == expected
    infos = [o["reward_extra_info"] for o in outputs]
    assert [i["verdict"] for i in infos] == [
        "accepted",
        "wrong_answer",
        "no_code",
        "accepted",
        "wrong_answer",
        "accepted",
    ]
    assert all(set(i) == set(infos[0]) for i in infos)  # verl stacks each key over the batch
    rm_scores = resolve_reward_manager_cls(config).assemble_rm_scores(data, scores)
    _check_rm_scores(rm_scores, lengths, expected)


def test_reward_modes_reach_verl(qwen_tokenizer, tokenizer_dir, rows):
    from verl.experimental.reward_loop import RewardLoopWorker

    config = _config(tokenizer_dir, "compute_score", mode="pass_plus_fraction")
    data, _ = _dataproto(qwen_tokenizer, rows)
    worker = RewardLoopWorker(config)
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    wrong_cc = outputs[1]["reward_extra_info"]
    assert wrong_cc["tests_run"] == wrong_cc["tests_total"] == 10  # partial modes run every test
    assert outputs[1]["reward_score"] == pytest.approx(0.1 * wrong_cc["tests_passed"] / 10)


@pytest.mark.slow
def test_verl_reward_loop_manager_with_a_ray_actor(qwen_tokenizer, tokenizer_dir, rows):
    """The trainer's own call: RewardLoopManager.compute_rm_score, workers as Ray actors."""
    import ray
    from verl.experimental.reward_loop import RewardLoopManager

    py = str(Path(__file__).resolve().parents[2] / "py")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        ignore_reinit_error=True,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [py, os.environ.get("PYTHONPATH")]))}},
    )
    try:
        data, lengths = _dataproto(qwen_tokenizer, rows)
        manager = RewardLoopManager(_config(tokenizer_dir, "compute_score_async", num_workers=2))
        out = manager.compute_rm_score(data)
        expected = [r[4] for r in rows]
        _check_rm_scores(out.batch["rm_scores"], lengths, expected)
        assert list(out.non_tensor_batch["verdict"]) == [
            "accepted",
            "wrong_answer",
            "no_code",
            "accepted",
            "wrong_answer",
            "accepted",
        ]
        assert "tests_passed" in out.meta_info["reward_extra_keys"]
    finally:
        ray.shutdown()


def test_sandbox_failure_stops_verls_reward_loop_instead_of_a_zero(qwen_tokenizer, tokenizer_dir, rows, eval_config):
    """The default `naive` reward manager lets the reward's InfrastructureError through: the step fails."""
    from test_reward import FlakySandboxFusion
    from verl.experimental.reward_loop import RewardLoopWorker

    from coderl.errors import InfrastructureError
    from coderl.reward import get_scorer
    from coderl.sandbox import make_executor

    srv = FlakySandboxFusion(make_executor("local", eval_config))
    try:
        config = _config(tokenizer_dir, "compute_score_async")
        config.reward.custom_reward_function.reward_kwargs.update({"sandbox": srv.url, "retries": 1})
        data, _ = _dataproto(qwen_tokenizer, rows[1:2])  # a wrong answer: 0 would look plausible
        worker = RewardLoopWorker(config)
        get_scorer(sandbox=srv.url, retries=1)  # the scorer the calls use, started while the sandbox is healthy
        srv.fail_next = 10**6
        with pytest.raises(InfrastructureError, match="failed 2 times in a row"):
            worker.loop.run_until_complete(worker.compute_score_batch(data))
        assert srv.failed == 2
    finally:
        srv.close()
