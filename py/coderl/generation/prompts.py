"""Chat messages for a problem, from the templates in the eval config's prompts file.

No template text lives in Python: demo profiles and the runbook use their own prompts files, and
the text is part of the eval fingerprint (coderl.config). Which template a problem gets:

1. `problem.meta["prompt_style"]` when set (the data loaders set it: humaneval | mbpp | stdio);
2. otherwise `stdio` for stdio problems;
3. otherwise, for functional problems: `mbpp` when `meta["test_list"]` is present, `humaneval` when
   the prompt is a stub that defines `entry_point` (`def <entry_point>(`);
4. anything else is a DataError naming the problem (set meta.prompt_style in its loader).
"""

from __future__ import annotations

import re
from typing import Any

from ..config import EvalConfig
from ..data.problem import Problem
from ..errors import ConfigError, DataError

_PLACEHOLDER = re.compile(r"\{(prompt|tests)\}")


def template_name(problem: Problem) -> str:
    """The name of the template (a key of prompts.yaml `templates`) this problem is asked with."""
    style = (problem.meta or {}).get("prompt_style")
    if style:
        return str(style)
    if problem.kind == "stdio":
        return "stdio"
    if (problem.meta or {}).get("test_list"):
        return "mbpp"
    if problem.entry_point and re.search(rf"\bdef\s+{re.escape(problem.entry_point)}\s*\(", problem.prompt):
        return "humaneval"
    raise DataError(
        f"problem {problem.id!r} ({problem.dataset}): cannot tell which prompt template to use (functional, "
        "no meta.test_list, prompt does not define its entry_point); set meta.prompt_style in its loader "
        "to humaneval, mbpp or stdio"
    )


def _tests_text(problem: Problem) -> str:
    tests = (problem.meta or {}).get("test_list")
    if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
        raise DataError(
            f"problem {problem.id!r} ({problem.dataset}): its template shows example tests ({{tests}}) but "
            "meta.test_list is missing or not a list of strings; fix the loader or the template"
        )
    return "\n".join(t.strip() for t in tests)


def render_user_prompt(problem: Problem, prompts: dict[str, Any], source: str = "prompts file") -> str:
    """Fill {prompt} and {tests} in one pass (problem text may itself contain braces or '{tests}')."""
    name = template_name(problem)
    templates = prompts.get("templates") or {}
    if name not in templates:
        raise ConfigError(
            f"{source}: no template '{name}' (needed by problem {problem.id!r} of {problem.dataset}); "
            f"defined: {', '.join(templates) or 'none'}"
        )
    template: str = templates[name]
    values = {"prompt": problem.prompt.strip("\n")}
    if "{tests}" in template:
        values["tests"] = _tests_text(problem)
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def build_messages(problem: Problem, cfg: EvalConfig) -> list[dict[str, str]]:
    """[system (if the prompts file has one), user]: what every backend sends for this problem."""
    source = str(cfg.path.parent / "prompts.yaml") if cfg.path else "prompts file"
    messages: list[dict[str, str]] = []
    system = cfg.prompts.get("system")
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": render_user_prompt(problem, cfg.prompts, source)})
    return messages
