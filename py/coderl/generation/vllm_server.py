"""Start an OpenAI-compatible model server as a child process, wait until it serves, stop it for sure.

`ServerProcess` is the lifecycle (port check up front, /health with a deadline, the log tail on
failure, the served model id verified, the whole process group stopped on exit, Ctrl-C or an
exception). `vllm_command` builds vLLM's command line from cfg.serving; `transformers_serve_command`
builds `transformers serve`'s, which serves the same model on CPU without vLLM (tests, CI).
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from ..errors import GenerationError
from ..paths import repo_root

log = logging.getLogger(__name__)

_LOG_TAIL_LINES = 40
_ERROR_LINE = re.compile(r"\b[A-Za-z_]*(Error|Exception): ")


def default_vllm_python() -> str:
    """$CODERL_VLLM_PYTHON, else .venv-vllm/bin/python (make vllm-cpu-env), else this interpreter."""
    env = os.environ.get("CODERL_VLLM_PYTHON")
    if env:
        return env
    local = repo_root() / ".venv-vllm" / "bin" / "python"
    return str(local) if local.exists() else sys.executable


def resolve_model_dir(path_or_id: str) -> str:
    """A verl checkpoint folder (global_step_N/) means its huggingface/ subfolder; a hub id stays as is."""
    p = Path(path_or_id)
    if p.is_dir():
        if (p / "config.json").is_file():
            return str(p.resolve())
        if (p / "huggingface" / "config.json").is_file():
            return str((p / "huggingface").resolve())
        raise GenerationError(f"{p}: neither a Hugging Face model folder (config.json) nor a verl checkpoint with "
                              "huggingface/config.json; save checkpoints with checkpoint.save_contents including hf_model")
    if path_or_id.startswith(("/", "./", "../")):
        raise GenerationError(f"model folder not found: {path_or_id}")
    return path_or_id


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def vllm_command(model: str, cfg, *, python: str, port: int, served_model_name: str, host: str = "127.0.0.1",
                 extra_args: list[str] | tuple[str, ...] = (), max_model_len: int | None = None) -> list[str]:
    """max_model_len: the context sized from the prompts (generation/context.py); default serving.max_model_len."""
    s = cfg.serving
    return [python, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
            "--served-model-name", served_model_name, "--host", host, "--port", str(port),
            "--tensor-parallel-size", str(s["tensor_parallel_size"]),
            "--gpu-memory-utilization", str(s["gpu_memory_utilization"]),
            "--max-model-len", str(max_model_len or s["max_model_len"]), "--dtype", str(s["dtype"]),
            "--seed", str(cfg.generation.get("seed", 0)), *extra_args]


def transformers_serve_command(model: str, cfg, *, python: str, port: int, host: str = "127.0.0.1",
                               dtype: str | None = None, extra_args: list[str] | tuple[str, ...] = ()) -> list[str]:
    return [python, "-m", "transformers.cli.transformers", "serve", model, "--host", host, "--port", str(port),
            "--device", "cpu", "--dtype", dtype or str(cfg.serving["dtype"]),
            "--default-seed", str(cfg.generation.get("seed", 0)), *extra_args]


def _descendants(pid: int) -> list[int]:
    """All live descendants of pid (from /proc), so children that left the process group die too."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
    out, stack = [], [pid]
    while stack:
        for c in children.get(stack.pop(), []):
            out.append(c)
            stack.append(c)
    return out


class ServerProcess:
    """A server child process. Use as a context manager: started on enter, stopped on exit (always)."""

    def __init__(self, command: list[str], *, port: int, host: str = "127.0.0.1", startup_timeout_s: float,
                 log_path: str | Path | None = None, env: dict[str, str] | None = None, name: str = "server"):
        self.command = list(command)
        self.port = port
        self.host = host
        self.startup_timeout_s = float(startup_timeout_s)
        self.name = name
        self.env = env
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkdtemp(prefix="coderl-serve-")) / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_tail(self, n: int = _LOG_TAIL_LINES) -> str:
        """The log's last n lines, preceded by its error lines (vLLM's root cause is often far above the end)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        errors = [ln for ln in lines[:-n] if _ERROR_LINE.search(ln)]
        head = ["... error lines earlier in the log:", *dict.fromkeys(errors[-5:]), "... last lines:"] if errors else []
        return "\n".join(head + lines[-n:])

    def start(self) -> "ServerProcess":
        if port_in_use(self.port, self.host):
            raise GenerationError(f"port {self.port} on {self.host} is already in use (another server, or an earlier "
                                  f"one still running: `ss -ltnp | grep :{self.port}`); stop it or pick another "
                                  "port (--port, serving.port in configs/eval.yaml)")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        logf = open(self.log_path, "ab")
        log.info("starting %s: %s (log: %s)", self.name, " ".join(self.command), self.log_path)
        env = {**os.environ, **(self.env or {})}
        # `transformers serve` answers /v1/models with a 500 when the hub cache folder does not exist
        # (a fresh machine); an empty one is enough
        hub = env.get("HF_HUB_CACHE") or os.path.join(env.get("HF_HOME") or os.path.expanduser("~/.cache/huggingface"), "hub")
        os.makedirs(hub, exist_ok=True)
        try:
            # its own session/process group: stop() signals the group, so workers it forks die with it
            self.proc = subprocess.Popen(self.command, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, env=env, preexec_fn=_die_with_parent)
        except OSError as e:
            raise GenerationError(f"cannot start {self.name} ({self.command[0]}): {e}; check --python") from None
        finally:
            logf.close()
        atexit.register(self.stop)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise GenerationError(f"{self.name} exited with code {rc} while starting; last lines of {self.log_path}:\n"
                                      f"{self.log_tail()}")
            try:
                if requests.get(self.url + "/health", timeout=5).status_code == 200:
                    log.info("%s is up at %s", self.name, self.url)
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise GenerationError(f"{self.name} did not answer {self.url}/health within {self.startup_timeout_s:.0f} s "
                                      f"(serving.startup_timeout_s); last lines of {self.log_path}:\n{self.log_tail()}")
            time.sleep(1.0)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM to the process group (and any descendant that left it), SIGKILL after grace_s."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        pids = [proc.pid, *_descendants(proc.pid)]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            for pid in pids[1:]:
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                proc.wait(timeout=grace_s if sig == signal.SIGTERM else 10)
                if sig == signal.SIGTERM:
                    # the leader is gone; give its children a moment, then make sure
                    time.sleep(0.5)
                    if not [p for p in pids[1:] if _pid_alive(p)]:
                        break
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s of SIGTERM; killing it", self.name, grace_s)
        log.info("%s stopped", self.name)

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the process that started it dies, even by SIGKILL
    (which no cleanup handler sees). Linux only; elsewhere stop() and atexit are the only guards.
    The signal follows the starting *thread*: start servers from a thread that outlives them."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
