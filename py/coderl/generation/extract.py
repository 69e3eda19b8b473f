"""Pull the program out of a model's answer (policy: docs/prompts.md, "Code extraction").

Fences are found line by line (a line that starts with ``` opens or closes a block). Candidates are
blocks tagged python/py/python3/py3 (any case) and untagged blocks that parse as Python; blocks in
other languages (bash, text, json, cpp...) are never run. Among candidates the best by

    (defines the entry point, is substantive, is closed)

wins, ties going to the FIRST such block. "Substantive" = defines a function or class at top level,
or reads standard input: this skips "Example usage" and "Output" blocks that follow the solution,
and the prompts ask for one block, so the first full one is the answer (LiveCodeBench also takes the
first block; verl's prime_code takes the last, which picks usage examples for instruct models).

No fence at all: the whole answer counts only if it parses as Python and is substantive
(`unfenced_python`), otherwise `no_code`. An opening fence never closed (cut by max_new_tokens)
yields the rest of the answer (`unterminated_fence`); the judge then decides.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..data.problem import Problem

PYTHON_TAGS = frozenset({"python", "py", "python3", "py3"})
_FENCE = re.compile(r"^\s*```+\s*([A-Za-z0-9_+#.-]*)[^\n]*$")
_READS_STDIN = re.compile(r"\binput\s*\(|\bsys\.stdin\b|\bopen\s*\(\s*0\b|\bstdin\.read")


@dataclass(frozen=True)
class Extraction:
    code: str | None
    # fenced_python | fenced_untagged | unterminated_fence | unfenced_python | no_code
    reason: str
    n_blocks: int = 0  # fenced blocks seen (any language)
    fixups: tuple[str, ...] = field(default=())  # e.g. ("body_only_completed", "imports_from_prompt")

    def to_dict(self) -> dict:
        return {"code": self.code, "reason": self.reason, "n_blocks": self.n_blocks, "fixups": list(self.fixups)}


@dataclass
class _Block:
    tag: str
    code: str
    closed: bool
    index: int


def _blocks(text: str) -> list[_Block]:
    lines = text.split("\n")
    out: list[_Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        tag = m.group(1).lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not re.match(r"^\s*```+\s*$", lines[j]):
            body.append(lines[j])
            j += 1
        closed = j < len(lines)
        out.append(_Block(tag=tag, code="\n".join(body), closed=closed, index=len(out)))
        i = j + 1
    return out


def _parses(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def _defines(tree: ast.Module | None, name: str | None) -> bool:
    if tree is None or not name:
        return False
    return any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name for n in tree.body
    )


def _substantive(code: str, tree: ast.Module | None) -> bool:
    if tree is not None and any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body
    ):
        return True
    if tree is None and re.search(r"^\s*(def|class)\s+\w+", code, re.M):  # a truncated definition
        return True
    return bool(_READS_STDIN.search(code))


def _dedent_block(code: str) -> str:
    import textwrap

    # Blocks inside list items come indented; a uniformly indented block is dedented, body-only
    # answers (first line indented, later ones not) are left alone for extract_for_problem.
    if _parses(code) is not None:
        return code
    dedented = textwrap.dedent(code)
    try:
        # compile, not parse: a function body ('return' outside a function) keeps its indent
        compile(dedented, "<answer>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return code
    return dedented


def extract_code(text: str, *, entry_point: str | None = None) -> Extraction:
    """The code to execute from `text`, or code=None with reason 'no_code'."""
    # one newline convention, as Python's own tokenizer reads source: CRLF and a bare CR are "\n"
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    blocks = _blocks(text)
    ranked = []
    for b in blocks:
        if b.tag and b.tag not in PYTHON_TAGS:
            continue
        code = _dedent_block(b.code)
        tree = _parses(code)
        if not b.tag and tree is None and b.closed:
            continue  # an untagged block that is not Python: sample input/output, prose
        if not code.strip():
            continue
        score = (_defines(tree, entry_point), _substantive(code, tree), b.closed)
        ranked.append((score, -b.index, b, code))
    if ranked:
        score, _, b, code = max(ranked, key=lambda r: (r[0], r[1]))
        reason = "unterminated_fence" if not b.closed else ("fenced_python" if b.tag else "fenced_untagged")
        return Extraction(code=code.strip("\n") + "\n", reason=reason, n_blocks=len(blocks))
    if not blocks:
        stripped = text.strip("\n")
        tree = _parses(stripped)
        if stripped.strip() and tree is not None and _substantive(stripped, tree):
            return Extraction(code=stripped + "\n", reason="unfenced_python", n_blocks=0)
    return Extraction(code=None, reason="no_code", n_blocks=len(blocks))


def _prompt_imports(prompt: str) -> list[str]:
    tree = _parses(prompt)
    if tree is None:
        return []
    lines = prompt.split("\n")
    return [
        "\n".join(lines[n.lineno - 1 : n.end_lineno]) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
    ]


def extract_for_problem(text: str, problem: Problem) -> Extraction:
    """extract_code plus the HumanEval-style repairs a function-completion prompt invites.

    - a body-only answer (indented statements, no `def entry_point`) is appended to the prompt's stub
      (`body_only_completed`), as HumanEval's own harness does with completions;
    - a solution that defines the entry point but drops the stub's imports (`from typing import
      List`) gets them back (`imports_from_prompt`): the imports are the problem's, not the model's.
    Stdio problems and MBPP get plain extract_code.
    """
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    ex = extract_code(text, entry_point=problem.entry_point)
    stub_defines = problem.entry_point and re.search(rf"\bdef\s+{re.escape(problem.entry_point)}\s*\(", problem.prompt)
    if problem.kind != "functional" or not stub_defines:
        return ex
    if ex.code is None:
        # an unfenced body-only answer, as base models give it: prompt + answer must define the function
        joined = problem.prompt.rstrip("\n") + "\n" + (text or "").strip("\n") + "\n"
        if ex.n_blocks == 0 and (text or "")[:1] in (" ", "\t") and _defines(_parses(joined), problem.entry_point):
            return Extraction(code=joined, reason="unfenced_python", n_blocks=0, fixups=("body_only_completed",))
        return ex
    tree = _parses(ex.code)
    if not _defines(tree, problem.entry_point):
        first = next((ln for ln in ex.code.split("\n") if ln.strip()), "")
        if first[:1] in (" ", "\t"):
            joined = problem.prompt.rstrip("\n") + "\n" + ex.code
            return Extraction(code=joined, reason=ex.reason, n_blocks=ex.n_blocks, fixups=("body_only_completed",))
        return ex
    present = set(_prompt_imports(ex.code))
    missing = [imp for imp in _prompt_imports(problem.prompt) if imp not in present]
    if missing:
        return Extraction(
            code="\n".join(missing) + "\n" + ex.code,
            reason=ex.reason,
            n_blocks=ex.n_blocks,
            fixups=("imports_from_prompt",),
        )
    return ex
