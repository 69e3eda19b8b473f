"""Fake HTTP servers in the tests (SandboxFusion stand-ins) answer JSON the same way."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler


def send_json(handler: BaseHTTPRequestHandler, obj, code: int = 200) -> None:
    """Answer the request `handler` serves with `obj` as a JSON body."""
    data = json.dumps(obj).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
