"""What an evaluation ran on that can change its verdicts; part of every per-dataset fingerprint.

Two evaluations that differ here are not compared silently (selection.py, the report):
  sandbox  "embedded" or "sandboxfusion" (the kind, not the host: two SandboxFusion servers of the
           same image judge alike)
  python   major.minor of the interpreter that runs the answers, asked of the sandbox itself
  engine   what generated the answers: vllm (started by coderl), transformers (hf), an
           OpenAI-compatible server of unknown make (openai), the reference solutions (oracle)
  dtype    the weights' dtype where coderl chooses it (vllm, hf); None where it cannot know (openai)
"""

from __future__ import annotations

from typing import Any

from ..errors import InfrastructureError

ENGINES = {"vllm": "vllm", "hf": "transformers", "openai": "openai-compatible server", "oracle": "oracle"}
_PYTHON_PROBE = "import sys\nprint('%d.%d' % sys.version_info[:2])\n"


def sandbox_kind(spec: str) -> str:
    return "sandboxfusion" if str(spec).startswith(("http://", "https://")) else "embedded"


def answer_python(executor) -> str:
    """major.minor of the Python that runs answers, from a run in the sandbox itself."""
    r = executor.run(_PYTHON_PROBE, timeout_s=30.0)
    version = r.stdout.strip()
    if r.status != "ok" or not version.replace(".", "").isdigit():
        raise InfrastructureError(
            f"the sandbox could not report its Python version (status {r.status}: "
            f"{(r.message or r.stderr)[-200:]!r}); fix the sandbox and re-run"
        )
    return version


def runtime_identity(
    sandbox_spec: str, executor, backend: str, cfg, backend_opts: dict | None = None
) -> dict[str, Any]:
    dtype = None
    if backend in ("vllm", "hf"):
        dtype = str((backend_opts or {}).get("dtype") or cfg.serving["dtype"])
    return {
        "sandbox": sandbox_kind(sandbox_spec),
        "python": answer_python(executor),
        "engine": ENGINES.get(backend, backend),
        "dtype": dtype,
    }
