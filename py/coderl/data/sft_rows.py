"""Parse SFT input rows into conversations, collecting every problem with its line number.

Accepted rows: {"messages": [{"role", "content"}, ...]} or {"prompt", "response"} (optional
"system"), an optional "id" (else a content hash), and optional tests for --validate:
"test_list" (asserts, optional "test_setup_code") or "tests" ([{input, output}, ...]).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io_utils import jsonl_objects

ROLES = ("system", "user", "assistant")


@dataclass
class Issue:
    check: str  # malformed_json | bad_row | duplicate_id | exact_duplicate | near_duplicate | too_long | ...
    line: int
    id: str | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}{f' (id {self.id})' if self.id else ''}: [{self.check}] {self.message}"


@dataclass
class SFTRow:
    line: int
    id: str
    messages: list[dict[str, str]]
    tests: dict[str, Any] = field(default_factory=dict)  # {"test_list", "test_setup_code"} or {"tests"}

    def text(self) -> str:
        return "\n".join(m["content"] for m in self.messages)

    def content_key(self) -> str:
        blob = json.dumps(self.messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def response(self) -> str:
        return self.messages[-1]["content"]


def _messages_of(obj: dict[str, Any]) -> tuple[list[dict[str, str]] | None, str | None]:
    """(messages, None) or (None, what is wrong)."""
    if "messages" in obj:
        msgs = obj["messages"]
        if not isinstance(msgs, list) or not msgs:
            return None, "'messages' must be a non-empty list of {role, content}"
        out = []
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or set(m) - {"role", "content"} or "role" not in m or "content" not in m:
                return None, f"messages[{i}] must be an object with exactly 'role' and 'content'"
            if m["role"] not in ROLES:
                return None, f"messages[{i}].role is {m['role']!r}; allowed: {', '.join(ROLES)}"
            if not isinstance(m["content"], str) or not m["content"].strip():
                return None, f"messages[{i}] ({m['role']}) has empty or non-string content"
            out.append({"role": m["role"], "content": m["content"]})
        return out, None
    if "prompt" in obj or "response" in obj:
        for key in ("prompt", "response"):
            if key not in obj:
                return None, f"missing field '{key}' (rows need 'messages', or 'prompt' and 'response')"
            if not isinstance(obj[key], str) or not obj[key].strip():
                return None, f"field '{key}' is empty or not a string"
        sys_msg = obj.get("system")
        if sys_msg is not None and (not isinstance(sys_msg, str) or not sys_msg.strip()):
            return None, "field 'system' is empty or not a string"
        head = [{"role": "system", "content": sys_msg}] if sys_msg else []
        return head + [
            {"role": "user", "content": obj["prompt"]},
            {"role": "assistant", "content": obj["response"]},
        ], None
    return None, "missing fields: a row needs 'messages', or 'prompt' and 'response'"


def _role_order_problem(msgs: list[dict[str, str]]) -> str | None:
    """System only first; then user/assistant alternating, starting with user, ending with assistant."""
    body = msgs[1:] if msgs[0]["role"] == "system" else msgs
    if any(m["role"] == "system" for m in body):
        return "a 'system' message is allowed only as the first message"
    if not body:
        return "no user/assistant turns"
    for i, m in enumerate(body):
        want = "user" if i % 2 == 0 else "assistant"
        if m["role"] != want:
            return f"turn {i + 1} after the system message is {m['role']!r}, expected {want!r} (turns must alternate user/assistant)"
    if body[-1]["role"] != "assistant":
        return "the last message must be the assistant's (the trained response)"
    return None


def _tests_of(obj: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    if "test_list" in obj:
        tl = obj["test_list"]
        if not isinstance(tl, list) or not tl or not all(isinstance(t, str) and t.strip() for t in tl):
            return {}, "'test_list' must be a non-empty list of assert strings"
        return {"test_list": tl, "test_setup_code": obj.get("test_setup_code") or ""}, None
    if "tests" in obj:
        ts = obj["tests"]
        if (
            not isinstance(ts, list)
            or not ts
            or not all(
                isinstance(t, dict) and isinstance(t.get("input"), str) and isinstance(t.get("output"), str) for t in ts
            )
        ):
            return {}, "'tests' must be a non-empty list of {input: str, output: str}"
        return {"tests": ts}, None
    return {}, None


def parse_rows(path: Path) -> tuple[list[SFTRow], list[Issue]]:
    """Every row that parses, and an Issue for every one that does not (nothing silently skipped)."""
    rows: list[SFTRow] = []
    issues: list[Issue] = []
    seen_ids: dict[str, int] = {}
    for n, obj, bad, why in jsonl_objects(path):
        if bad:
            issues.append(Issue("malformed_json" if bad == "not_json" else "bad_row", n, None, why))
            continue
        rid = obj.get("id")
        if rid is not None and not (isinstance(rid, (str, int)) and not isinstance(rid, bool) and str(rid).strip()):
            issues.append(Issue("bad_row", n, None, f"'id' must be a non-empty string or integer, got {rid!r}"))
            continue
        msgs, err = _messages_of(obj)
        if err is None:
            err = _role_order_problem(msgs)
        tests, terr = _tests_of(obj)
        if err or terr:
            issues.append(Issue("bad_row", n, str(rid) if rid is not None else None, err or terr))
            continue
        row = SFTRow(line=n, id="", messages=msgs, tests=tests)
        row.id = str(rid) if rid is not None else "sha256:" + row.content_key()[:16]
        if row.id in seen_ids:
            issues.append(Issue("duplicate_id", n, row.id, f"id already used on line {seen_ids[row.id]}"))
            continue
        seen_ids[row.id] = n
        rows.append(row)
    return rows, issues
