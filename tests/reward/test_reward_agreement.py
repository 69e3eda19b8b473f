"""Reward 1 exactly when `coderl judge` accepts: a CI sample (bench-reward's `agreement` section runs
every train300 known solution).

Answers: CodeContests train300 known solutions and GRPO-like failures (reward/answers.py) on a
spread of problems, and conformance-style answer styles on HumanEval problems (whole function,
body only, prose and several fences, a `__main__` demo, CRLF, wrong body, syntax error). The
reward scores the raw answer text; `coderl judge` (the real CLI, in a subprocess) judges what
evaluation extracts from the same text.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from coderl.generation.extract import extract_for_problem
from coderl.reward import answers as kinds
from coderl.reward import compute_score_batch, to_ground_truth
from coderl.sandbox import samples

REPO = Path(__file__).resolve().parents[2]
TRAIN300_EVERY = 12  # 25 of the 300 problems
TRAIN300_KINDS = ("known_fenced", "known_unfenced", "wrong_first_token", "crash", "no_code", "exit_early")
HUMANEVAL_EVERY = 8  # 21 of the 164 problems


def _humaneval_styles(p, canonical_body: str) -> dict[str, str]:
    whole = p.prompt + canonical_body
    return {
        "whole": f"```python\n{whole}\n```",
        "body_only": f"```python\n{canonical_body}\n```",
        "prose_two_fences": f"Here it is:\n\n```python\n{whole}\n```\n\nExample:\n\n```python\nprint({p.entry_point})\n```\n",
        "main_demo": f"```python\n{whole}\n\nif __name__ == '__main__':\n    print('demo')\n```",
        "crlf": "```python\r\n" + whole.replace("\n", "\r\n") + "\r\n```",
        "wrong_body": f"```python\n{p.prompt}    return None\n```",
        "syntax_error": f"```python\ndef {p.entry_point}(:\n    pass\n```",
    }


def test_reward_is_1_iff_coderl_judge_accepts(shared_data, tmp_path):
    cases = []  # (problem with a unique id, answer text)
    train = samples.codecontests_train300(shared_data / "codecontests_train300.jsonl")
    for p, sol in train[::TRAIN300_EVERY]:
        for k in TRAIN300_KINDS:
            cases.append((dataclasses.replace(p, id=f"{p.id}#{k}"), kinds.answer(k, sol)))
    for p, ref in samples.humaneval()[::HUMANEVAL_EVERY]:
        body = ref[len(p.prompt) :]
        for style, text in _humaneval_styles(p, body).items():
            cases.append((dataclasses.replace(p, id=f"{p.id}#{style}"), text))

    rewards = compute_score_batch(
        [p.dataset for p, _ in cases], [t for _, t in cases], [to_ground_truth(p) for p, _ in cases]
    )

    (tmp_path / "p.jsonl").write_text("".join(json.dumps(p.to_dict()) + "\n" for p, _ in cases))
    (tmp_path / "c.jsonl").write_text(
        "".join(json.dumps({"id": p.id, "code": extract_for_problem(t, p).code}) + "\n" for p, t in cases)
    )
    out = tmp_path / "v.jsonl"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "coderl",
            "judge",
            "--problems",
            str(tmp_path / "p.jsonl"),
            "--completions",
            str(tmp_path / "c.jsonl"),
            "--out",
            str(out),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    verdicts = {v["id"]: v for v in map(json.loads, out.read_text().splitlines())}

    disagree = [
        (p.id, rw["verdict"], verdicts[p.id]["verdict"])
        for (p, _), rw in zip(cases, rewards)
        if (rw["score"] == 1.0) != (verdicts[p.id]["verdict"] == "accepted")
    ]
    assert disagree == []
    # the same verdict, not only the same accept/reject
    assert [rw["verdict"] for rw in rewards] == [verdicts[p.id]["verdict"] for p, _ in cases]
    accepted = sum(rw["score"] == 1.0 for rw in rewards)
    # not vacuous: both outcomes occur in numbers, in both sets
    assert 40 <= accepted <= len(cases) - 60, accepted
    assert sum(rw["score"] == 1.0 for (p, _), rw in zip(cases, rewards) if p.dataset == "humaneval") >= 60
