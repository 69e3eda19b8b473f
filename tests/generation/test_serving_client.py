"""The OpenAI client's retry, error and ordering behaviour, over real HTTP against a scripted server.

The scripted server answers like vLLM does (same JSON shapes) but can be told to fail a request with
a status code or to be slow, which a real model server cannot be made to do on demand.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from coderl.data.problem import Problem
from coderl.errors import GenerationError
from coderl.generation import build_messages, make_backend


class Scripted:
    def __init__(self):
        self.fail: dict[str, list[int]] = {}  # prompt marker -> status codes to answer first, in order
        self.delay: dict[str, float] = {}
        self.requests: list[dict] = []
        self.models = ["m"]


def _server(script: Scripted):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _json(self, code, obj):
            body = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/health":
                return self._json(200, {})
            if self.path == "/v1/models":
                return self._json(200, {"data": [{"id": m} for m in script.models]})
            self._json(404, {})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.requests.append(body)
            user = body["messages"][-1]["content"]
            marker = re.search(r"task (\w+)", user).group(1)
            if marker in script.fail and script.fail[marker]:
                return self._json(script.fail[marker].pop(0), {"error": "scripted failure"})
            time.sleep(script.delay.get(marker, 0.0))
            n = body["max_tokens"]
            self._json(
                200,
                {
                    "choices": [
                        {
                            "message": {"role": "assistant", "content": f"answer to {marker}"},
                            "finish_reason": "length" if marker == "long" else "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 11, "completion_tokens": n if marker == "long" else 3},
                },
            )

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture
def scripted():
    script = Scripted()
    srv = _server(script)
    yield script, f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


def _p(marker: str) -> Problem:
    return Problem(id=marker, dataset="toy", kind="stdio", prompt=f"task {marker}", tests=[{"input": "", "output": ""}])


def _cfg(eval_config, **serving):
    return dataclasses.replace(eval_config, serving={**eval_config.serving, "retries": 2, "concurrency": 4, **serving})


def _run(cfg, url, markers, **kw):
    with make_backend("openai", cfg=cfg, url=url, **kw) as b:
        return list(b.generate((_p(m), build_messages(_p(m), cfg)) for m in markers))


def test_request_carries_only_the_configured_sampling_params(eval_config, scripted):
    script, url = scripted
    cfg = _cfg(eval_config)
    (g,) = _run(cfg, url, ["a"])
    sent = script.requests[0]
    gen = cfg.generation
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["seed"], sent["model"]) == (
        gen["temperature"],
        gen["top_p"],
        gen["max_new_tokens"],
        gen["seed"],
        "m",
    )
    assert (g.completion, g.finish_reason, g.truncated, g.prompt_tokens, g.completion_tokens) == (
        "answer to a",
        "stop",
        False,
        11,
        3,
    )


def test_length_finish_is_flagged_truncated(eval_config, scripted):
    _, url = scripted
    (g,) = _run(_cfg(eval_config), url, ["long"])
    assert (
        g.truncated and g.finish_reason == "length" and g.completion_tokens == eval_config.generation["max_new_tokens"]
    )


def test_5xx_is_retried_4xx_is_not(eval_config, scripted):
    script, url = scripted
    script.fail = {"flaky": [503], "bad": [400, 400, 400]}
    out = {g.id: g for g in _run(_cfg(eval_config), url, ["flaky", "bad"])}
    assert out["flaky"].ok and out["flaky"].completion == "answer to flaky"
    assert not out["bad"].ok and "HTTP 400" in out["bad"].error and out["bad"].completion == ""
    asked = [r["messages"][-1]["content"] for r in script.requests]
    assert sum("bad" in a for a in asked) == 1  # not retried
    assert sum("flaky" in a for a in asked) == 2  # failed once, retried once


def test_results_are_yielded_as_they_complete(eval_config, scripted):
    script, url = scripted
    script.delay = {"slow": 1.5}
    order = [g.id for g in _run(_cfg(eval_config), url, ["slow", "fast1", "fast2"])]
    assert order[-1] == "slow" and set(order) == {"slow", "fast1", "fast2"}


def test_served_model_id_is_verified(eval_config, scripted):
    script, url = scripted
    with pytest.raises(GenerationError, match="serves m, not 'checkpoint-200'"):
        _run(_cfg(eval_config), url, ["a"], model="checkpoint-200")
    script.models = ["m", "n"]
    with pytest.raises(GenerationError, match="serves 2 models"):
        _run(_cfg(eval_config), url, ["a"])
