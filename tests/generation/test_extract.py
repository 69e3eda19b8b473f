"""Code extraction policy (docs/prompts.md) on a table of tricky, real-looking answers."""

from __future__ import annotations

import pytest

from coderl.data.problem import Problem
from coderl.generation.extract import extract_code, extract_for_problem

SOLUTION = "def add(a, b):\n    return a + b\n"

CASES = [
    # (name, answer, expected reason, expected code or None)
    ("one python block", f"Here you go:\n```python\n{SOLUTION}```\n", "fenced_python", SOLUTION),
    ("py tag", f"```py\n{SOLUTION}```", "fenced_python", SOLUTION),
    ("Python3 tag, any case", f"```Python3\n{SOLUTION}```", "fenced_python", SOLUTION),
    ("untagged block that parses", f"```\n{SOLUTION}```", "fenced_untagged", SOLUTION),
    (
        "solution then usage example",
        f"```python\n{SOLUTION}```\n\nExample usage:\n```python\nprint(add(1, 2))  # 3\n```\n",
        "fenced_python",
        SOLUTION,
    ),
    (
        "usage example first, solution second",
        f"You would call it like:\n```python\nprint(add(1, 2))\n```\nImplementation:\n```python\n{SOLUTION}```",
        "fenced_python",
        SOLUTION,
    ),
    (
        "bash block is never run",
        f"Install nothing:\n```bash\npip install foo\n```\n```python\n{SOLUTION}```",
        "fenced_python",
        SOLUTION,
    ),
    ("only another language", "```cpp\nint main() { return 0; }\n```", "no_code", None),
    (
        "stdio program then sample input/output blocks",
        "```python\nn = int(input())\nprint(n * 2)\n```\nInput:\n```\n3\n```\nOutput:\n```\n6\n```",
        "fenced_python",
        "n = int(input())\nprint(n * 2)\n",
    ),
    (
        "unterminated block cut by max_new_tokens",
        "Sure.\n```python\ndef add(a, b):\n    return a +",
        "unterminated_fence",
        "def add(a, b):\n    return a +\n",
    ),
    (
        "closed solution beats a later truncated block",
        f"```python\n{SOLUTION}```\nAlternatively:\n```python\ndef add(a, b):\n    return sum(",
        "fenced_python",
        SOLUTION,
    ),
    ("no fence, whole answer is a program", SOLUTION, "unfenced_python", SOLUTION),
    ("no fence, prose", "I cannot solve this problem without more information.", "no_code", None),
    ("no fence, prose that happens to parse", "Hello", "no_code", None),
    ("empty answer", "", "no_code", None),
    ("empty python block", "```python\n```", "no_code", None),
    ("untagged prose block", "```\nThe answer is 42 because of reasons.\n```", "no_code", None),
    (
        "block inside a list item is dedented",
        "1. Define it:\n   ```python\n   def add(a, b):\n       return a + b\n   ```",
        "fenced_python",
        SOLUTION,
    ),
    ("four backticks", f"````python\n{SOLUTION}````", "fenced_python", SOLUTION),
    (
        "test class after solution: the first substantive block wins",
        f"```python\n{SOLUTION}```\nTests:\n```python\nimport unittest\nclass T(unittest.TestCase):\n"
        "    def test(self):\n        self.assertEqual(add(1, 2), 3)\n```",
        "fenced_python",
        SOLUTION,
    ),
]


@pytest.mark.parametrize("name,answer,reason,code", CASES, ids=[c[0] for c in CASES])
def test_extraction_table(name, answer, reason, code):
    ex = extract_code(answer)
    assert ex.reason == reason, ex
    assert ex.code == code


def test_entry_point_prefers_the_block_that_defines_it():
    answer = (
        f"First a helper:\n```python\ndef helper(x):\n    return x\n```\nThen the function:\n```python\n{SOLUTION}```"
    )
    assert extract_code(answer).code.startswith("def helper")  # without entry point: first substantive block
    assert extract_code(answer, entry_point="add").code == SOLUTION


HE_PROMPT = 'from typing import List\n\n\ndef add(a: List[int], b: int) -> int:\n    """Add."""\n'


def _he_problem() -> Problem:
    return Problem(
        id="HumanEval/0",
        dataset="humaneval",
        kind="functional",
        prompt=HE_PROMPT,
        entry_point="add",
        test_code="def check(f):\n    assert f([1], 2) == 3\n",
        meta={"prompt_style": "humaneval"},
    )


def test_humaneval_body_only_answer_is_completed_with_the_stub():
    ex = extract_for_problem("```python\n    return a[0] + b\n```", _he_problem())
    assert ex.fixups == ("body_only_completed",)
    ns: dict = {}
    exec(ex.code, ns)  # the stub + body is a runnable function
    assert ns["add"]([1], 2) == 3


def test_humaneval_unfenced_body_only_answer():
    ex = extract_for_problem("    return a[0] + b\n", _he_problem())
    assert (ex.reason, ex.fixups) == ("unfenced_python", ("body_only_completed",))
    ns: dict = {}
    exec(ex.code, ns)
    assert ns["add"]([4], 1) == 5


def test_humaneval_missing_prompt_imports_are_restored():
    answer = "```python\ndef add(a: List[int], b: int) -> int:\n    return a[0] + b\n```"
    ex = extract_for_problem(answer, _he_problem())
    assert ex.fixups == ("imports_from_prompt",)
    assert ex.code.startswith("from typing import List\n")
    ns: dict = {}
    exec(ex.code, ns)
    assert ns["add"]([1], 1) == 2


def test_stdio_problem_gets_plain_extraction():
    p = Problem(id="cc/1", dataset="cc", kind="stdio", prompt="Double n.", tests=[{"input": "1\n", "output": "2\n"}])
    ex = extract_for_problem("```python\nprint(2 * int(input()))\n```", p)
    assert (ex.code, ex.fixups) == ("print(2 * int(input()))\n", ())


def test_extraction_round_trips_to_dict():
    ex = extract_code(f"```python\n{SOLUTION}```")
    assert ex.to_dict() == {"code": SOLUTION, "reason": "fenced_python", "n_blocks": 1, "fixups": []}


def _humaneval():
    from coderl.data.loaders import humaneval

    return humaneval.problems_from_rows(humaneval.read_rows(humaneval.package_file()))


def _passes(code: str, problem: Problem) -> bool:
    ns: dict = {}
    exec(code + "\n" + problem.test_code, ns)  # trusted: HumanEval's own canonical solutions
    ns["check"](ns[problem.entry_point])
    return True


def test_oracle_answers_extract_to_the_reference_on_all_of_humaneval(eval_config):
    from coderl.generation import build_messages, make_backend

    problems = _humaneval()
    with make_backend("oracle", cfg=eval_config) as b:
        gens = list(b.generate((p, build_messages(p, eval_config)) for p in problems))
    for p, g in zip(problems, gens):
        ex = extract_for_problem(g.completion, p)
        assert (ex.reason, ex.fixups) == ("fenced_python", ()), p.id
        assert ex.code.strip("\n") == p.reference_code.strip("\n"), p.id
    assert all(_passes(extract_for_problem(g.completion, p).code, p) for p, g in list(zip(problems, gens))[:10])


def test_body_only_answers_pass_humaneval_tests():
    """Answers that give only the canonical body (as a base model would) are completed with the stub and pass."""
    problems = _humaneval()[:25]
    for p in problems:
        body = p.reference_code[len(p.prompt) :]
        ex = extract_for_problem(f"Here is the body:\n```python\n{body}\n```", p)
        assert ex.fixups == ("body_only_completed",), p.id
        assert _passes(ex.code, p), p.id


def test_oracle_answers_extract_to_the_reference_on_real_stdio_solutions(shared_data):
    """300 CodeContests Python solutions: fenced by the oracle, extracted back unchanged."""
    import json

    from coderl.data.loaders import sandboxfusion
    from coderl.generation.oracle import OracleBackend

    rows = [json.loads(line) for line in (shared_data / "codecontests_train300.jsonl").open(encoding="utf-8")]
    problems = [p for p in sandboxfusion.problems_from_train300_rows(rows, "cc_train", "shared") if p.reference_code]
    assert len(problems) >= 250
    for p, g in zip(problems, OracleBackend().generate((p, []) for p in problems)):
        ex = extract_for_problem(g.completion, p)
        assert ex.reason == "fenced_python", p.id
        assert ex.code.strip("\n") == p.reference_code.strip("\n"), p.id
