"""Start SandboxFusion in Docker (what `coderl sandbox start` / `make sandbox` do where Docker works).

The embedded executor (--sandbox local) needs nothing started; SandboxFusion is the optional
remote backend. The container is started detached and removed when stopped (`docker rm -f`);
an already running one is reused. Ready means coderl's own health check passes at the URL.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable

from ..errors import InfrastructureError

DEFAULT_IMAGE = "volcengine/sandbox-fusion:server-20250609"
DEFAULT_PORT = 8080
CONTAINER = "coderl-sandbox-fusion"


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def docker_unusable() -> str | None:
    """Why Docker cannot start containers here, or None when it can."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    try:
        if _docker("info").returncode != 0:
            return "docker is installed but its engine is not reachable (docker info failed)"
    except subprocess.TimeoutExpired:
        return "docker is installed but its engine did not answer (docker info timed out)"
    return None


def start_sandboxfusion(
    image: str, port: int, healthy: Callable[[str], bool], wait_s: float = 120.0, say: Callable[[str], None] = print
) -> str:
    """Run (or reuse) the SandboxFusion container on 127.0.0.1:`port`; return its URL once `healthy(url)`."""
    running = _docker("ps", "--format", "{{.Names}}").stdout.split()
    if CONTAINER in running:
        say(f"SandboxFusion already running as container {CONTAINER}")
    else:
        _docker("rm", "-f", CONTAINER)  # a stopped leftover of the same name would block the name
        r = _docker("run", "-d", "--rm", "--name", CONTAINER, "-p", f"127.0.0.1:{port}:8080", image, timeout=600)
        if r.returncode != 0:
            raise InfrastructureError(f"docker run {image} failed: {r.stderr.strip()[-500:]}")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if healthy(url):
            return url
        time.sleep(2.0)
    raise InfrastructureError(
        f"SandboxFusion did not answer at {url} within {wait_s:.0f} s; see: docker logs {CONTAINER}"
    )
