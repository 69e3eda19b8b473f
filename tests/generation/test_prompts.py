"""Prompt templates: which template a problem gets, filling, the system message, docs/prompts.md in sync."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from coderl.data.problem import Problem
from coderl.errors import ConfigError, DataError
from coderl.generation.prompts import build_messages, template_name

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "prompts.md"


def _render_tool():
    """tools/render_prompts_doc.py, the script that writes the page (tools/ is outside the package)."""
    spec = importlib.util.spec_from_file_location("render_prompts_doc", REPO / "tools" / "render_prompts_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mbpp(**meta) -> Problem:
    return Problem(
        id="mbpp/2",
        dataset="mbpp_reg",
        kind="functional",
        prompt="Write a function f.",
        test_code="assert f() == 1\n",
        meta=meta,
    )


def test_template_choice_rules():
    stub = Problem(
        id="HumanEval/1",
        dataset="humaneval",
        kind="functional",
        prompt="def f(x):\n    '''doc'''\n",
        entry_point="f",
        test_code="def check(c): pass\n",
    )
    stdio = Problem(id="cc/1", dataset="cc", kind="stdio", prompt="Read n.", tests=[{"input": "1", "output": "1"}])
    assert template_name(stub) == "humaneval"
    assert template_name(stdio) == "stdio"
    assert template_name(_mbpp(test_list=["assert f() == 1"])) == "mbpp"
    assert template_name(_mbpp(test_list=["assert f() == 1"], prompt_style="stdio")) == "stdio"  # explicit wins
    with pytest.raises(DataError, match="prompt_style"):
        template_name(_mbpp())  # functional, no tests shown, no stub: refuse to guess


def test_mbpp_tests_are_shown_and_braces_in_problem_text_survive(eval_config):
    p = Problem(
        id="mbpp/3",
        dataset="mbpp_reg",
        kind="functional",
        prompt="Return {'a': 1} merged with d; mention {tests} literally.",
        test_code="assert f({}) == {}\n",
        meta={"test_list": ["assert f({}) == {'a': 1}", "assert f({'b': 2}) == {'a': 1, 'b': 2}"]},
    )
    system, user = build_messages(p, eval_config)
    assert system == {"role": "system", "content": eval_config.prompts["system"]}
    assert user["role"] == "user"
    assert "Return {'a': 1} merged with d; mention {tests} literally." in user["content"]
    assert "assert f({}) == {'a': 1}\nassert f({'b': 2}) == {'a': 1, 'b': 2}" in user["content"]


def test_missing_template_or_tests_are_clear_errors(eval_config):
    no_mbpp = dataclasses.replace(eval_config, prompts={"system": None, "templates": {"stdio": "{prompt}"}})
    with pytest.raises(ConfigError, match="no template 'mbpp'"):
        build_messages(_mbpp(test_list=["assert f() == 1"]), no_mbpp)
    with pytest.raises(DataError, match="test_list"):
        build_messages(_mbpp(prompt_style="mbpp"), eval_config)


def test_no_system_message_when_the_profile_has_none(eval_config):
    cfg = dataclasses.replace(eval_config, prompts={"system": None, "templates": {"stdio": "Solve:\n{prompt}"}})
    p = Problem(id="x", dataset="d", kind="stdio", prompt="\nRead n.\n", tests=[{"input": "1", "output": "1"}])
    assert build_messages(p, cfg) == [{"role": "user", "content": "Solve:\nRead n."}]


def test_template_text_changes_the_fingerprint(eval_config):
    changed = dataclasses.replace(eval_config, prompts={**eval_config.prompts, "system": "Be terse."})
    assert changed.fingerprint() != eval_config.fingerprint()


@pytest.mark.slow
def test_docs_page_matches_the_rendered_templates(eval_config, shared_data):
    """docs/prompts.md shows each template rendered through the real Qwen2.5 chat template on a real problem."""
    render = _render_tool()

    problems = render.example_problems(shared_data)
    assert [template_name(p) for p in problems] == ["humaneval", "mbpp", "stdio"]
    section = render.rendered_section(problems, eval_config)
    assert section in DOCS.read_text(encoding="utf-8"), (
        "docs/prompts.md is stale: regenerate with python tools/render_prompts_doc.py"
    )
    assert section.count("<|im_start|>assistant\n") == 3
