"""Server faults through `coderl eval --backend openai`: never scored silently, never retried forever.

The server here is a small OpenAI-compatible endpoint that answers as vLLM does in the two cases
under test (an empty message content; HTTP 400 "maximum context length"); everything else is real:
the client, the runner, the guard, the embedded sandbox, the HumanEval data.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coderl.cli import main
from coderl.evaluation.history import read_history

TOO_LONG_MARKER = "def has_close_elements("  # HumanEval/0's prompt: the "too long" one


class _Server(BaseHTTPRequestHandler):
    content: str | None = ""

    def _send(self, code: int, obj) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        if self.path == "/health":
            self._send(200, {})
        else:
            self._send(200, {"data": [{"id": "m"}]})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        prompt = body["messages"][-1]["content"]
        if self.content is not None and TOO_LONG_MARKER in prompt:
            self._send(
                400,
                {
                    "object": "error",
                    "type": "BadRequestError",
                    "code": 400,
                    "message": (
                        "This model's maximum context length is 6144 tokens. However, you requested 7000 tokens "
                        "(4952 in the messages, 2048 in the completion). Please reduce the length of the messages or completion."
                    ),
                },
            )
            return
        self._send(
            200,
            {
                "choices": [{"message": {"role": "assistant", "content": self.content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 5},
            },
        )

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    def start(content):
        handler = type("H", (_Server,), {"content": content, "requests": []})
        srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        started.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}", handler

    started: list = []
    yield start
    for s in started:
        s.shutdown()


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("raw")
    assert main(["data", "--datasets", "humaneval", "--raw-dir", str(d), "--offline"]) == 0
    return d


def _eval(raw_dir, out, url, limit):
    return main(
        [
            "eval",
            "--model",
            "m",
            "--step",
            "0",
            "--vllm-url",
            url,
            "--phase",
            "p",
            "--datasets",
            "humaneval",
            "--limit",
            str(limit),
            "--raw-dir",
            str(raw_dir),
            "--out-root",
            str(out),
        ]
    )


def test_empty_message_content_stops_the_run_and_records_nothing(raw_dir, tmp_path, server, capsys):
    """Proves answers with empty content (null, as a reasoning parser leaves it) stop the run with a
    clear message, write no history line or metrics, and cache no answer to be reused."""
    url, handler = server(None)
    out = tmp_path / "outputs"
    rc = _eval(raw_dir, out, url, 25)
    err = capsys.readouterr().err
    assert rc != 0 and "answers have empty message content" in err and "nothing recorded in the history" in err
    assert len(handler.requests) <= 25
    step = out / "p" / "step_0_limit25"
    assert not (out / "p" / "eval_history.jsonl").exists() and not (step / "metrics.json").exists()
    for cache in (step / "cache").rglob("*.jsonl"):
        assert cache.read_text().strip() == "", cache


def test_prompt_too_long_counts_against_the_model_per_dataset_and_is_not_retried(raw_dir, tmp_path, server, capsys):
    """Proves a deterministic HTTP 400 'maximum context length' is the problem's own verdict
    (prompt_too_long): in the denominator, counted per dataset, cached, and not asked again on a re-run."""
    url, handler = server("```python\ndef f():\n    return 1\n```")
    out = tmp_path / "outputs"
    assert _eval(raw_dir, out, url, 3) == 0
    assert sum(TOO_LONG_MARKER in r["messages"][-1]["content"] for r in handler.requests) == 1  # no retry
    step = out / "p" / "step_0_limit3"
    recs = {r["id"]: r for r in map(json.loads, (step / "per_problem" / "humaneval.jsonl").read_text().splitlines())}
    assert (
        recs["HumanEval/0"]["verdict"] == "prompt_too_long"
        and "maximum context length" in recs["HumanEval/0"]["detail"]
    )
    m = json.loads((step / "metrics.json").read_text())["datasets"]["humaneval"]
    assert m["n"] == 3 and m["n_prompt_too_long"] == 1 and m["n_excluded"] == 0
    [row] = read_history(out / "p" / "eval_history.jsonl")
    assert row["scores"]["humaneval"]["n_prompt_too_long"] == 1 and row["scores"]["humaneval"]["n"] == 3
    handler.requests.clear()
    assert _eval(raw_dir, out, url, 3) == 0
    assert handler.requests == []  # everything cached, the refused prompt included
    capsys.readouterr()
