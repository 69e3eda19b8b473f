"""Generation records, make_backend, the oracle and hf backends, and the resumable `coderl generate` path."""

from __future__ import annotations

import dataclasses
import json

import pytest

from coderl.cli import main as coderl_main
from coderl.data.problem import Problem
from coderl.errors import ConfigError, DataError
from coderl.generation import Generation, build_messages, extract_code, make_backend
from coderl.generation.runner import done_ids, generate_to_file
from coderl.io_utils import read_jsonl


def _stdio(i: int, ref: str | None = "print(int(input()) * 2)") -> Problem:
    return Problem(
        id=f"toy/{i}",
        dataset="toy",
        kind="stdio",
        prompt=f"Read n, print 2n. ({i})",
        tests=[{"input": "2\n", "output": "4\n"}],
        reference_code=ref,
    )


def test_generation_round_trips_and_rejects_bad_records():
    g = Generation(
        id="a",
        dataset="d",
        completion="x",
        finish_reason="length",
        truncated=True,
        prompt_tokens=3,
        completion_tokens=5,
        wall_s=0.25,
    )
    assert Generation.from_dict(json.loads(json.dumps(g.to_dict()))) == g
    assert Generation.from_dict({k: v for k, v in g.to_dict().items() if k != "error"}).error is None
    with pytest.raises(DataError, match="missing field.*completion"):
        Generation.from_dict({k: v for k, v in g.to_dict().items() if k != "completion"})
    with pytest.raises(DataError, match="unknown field.*bogus"):
        Generation.from_dict({**g.to_dict(), "bogus": 1})


def test_make_backend_refuses_incomplete_requests(eval_config):
    with pytest.raises(ConfigError, match="--vllm-url"):
        make_backend("openai", cfg=eval_config)
    with pytest.raises(ConfigError, match="needs a model"):
        make_backend("vllm", cfg=eval_config)
    with pytest.raises(ConfigError, match="unknown generation backend 'gpt'"):
        make_backend("gpt", cfg=eval_config)


def test_oracle_answers_with_reference_and_flags_missing_reference(eval_config):
    problems = [_stdio(1), _stdio(2, ref=None)]
    with make_backend("oracle", cfg=eval_config) as b:
        out = list(b.generate((p, build_messages(p, eval_config)) for p in problems))
    assert [g.id for g in out] == ["toy/1", "toy/2"]
    assert out[0].ok and extract_code(out[0].completion).code == "print(int(input()) * 2)\n"
    assert not out[1].ok and "no reference_code" in out[1].error and out[1].completion == ""


def test_openai_backend_reports_no_server(eval_config):
    from coderl.errors import GenerationError
    from coderl.generation.vllm_server import port_in_use

    port = next(p for p in range(18431, 18500) if not port_in_use(p))
    with pytest.raises(GenerationError, match="no server answers"):
        with make_backend("openai", cfg=eval_config, url=f"http://127.0.0.1:{port}"):
            pass


def test_generate_cli_resumes_without_asking_again(tmp_path):
    problems = tmp_path / "toy_raw.jsonl"
    problems.write_text(
        "".join(json.dumps(_stdio(i, ref=None if i == 2 else "print(1)").to_dict()) + "\n" for i in range(4))
    )
    out = tmp_path / "gen.jsonl"
    args = ["generate", "--problems", str(problems), "--backend", "oracle", "--out", str(out)]
    assert coderl_main(args) == 1  # toy/2 has no reference: a failed record, non-zero exit
    assert done_ids(out) == {"toy/0", "toy/1", "toy/3"}
    assert coderl_main(args) == 1  # a re-run asks only for the failed one
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["toy/0", "toy/1", "toy/2", "toy/3", "toy/2"]


@pytest.mark.slow
def test_hf_backend_greedy_is_deterministic_and_counts_tokens(eval_config, tiny_model_dir):
    cfg = dataclasses.replace(eval_config, generation={**eval_config.generation, "max_new_tokens": 8})
    p = _stdio(0)
    with make_backend("hf", cfg=cfg, model=str(tiny_model_dir), dtype="float32") as b:
        a = list(b.generate([(p, build_messages(p, cfg))]))
        again = list(b.generate([(p, build_messages(p, cfg))]))
    assert a[0].ok and a[0].completion == again[0].completion
    assert a[0].prompt_tokens > 20 and 1 <= a[0].completion_tokens <= 8
    assert a[0].truncated == (a[0].finish_reason == "length")
    assert a[0].truncated == (a[0].completion_tokens == 8)


def test_generate_to_file_appends_as_records_arrive(eval_config, tmp_path):
    out = tmp_path / "g.jsonl"
    with make_backend("oracle", cfg=eval_config) as b:
        counts = generate_to_file(b, [_stdio(0), _stdio(1)], eval_config, out)
    assert counts == {"asked": 2, "ok": 2, "failed": 0, "skipped": 0, "truncated": 0}
    assert [Generation.from_dict(r).id for r in read_jsonl(out)] == ["toy/0", "toy/1"]
