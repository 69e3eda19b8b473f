"""scripts/install_bwrap.sh (run by make setup): install bubblewrap where it can, else print the command.

The script is run for real; only the system commands it decides between (`apt-get`, `id`) are
replaced by small recording scripts on PATH, since the test must not install packages or need a
non-root user. `bwrap` is hidden by a PATH that holds only what the script needs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "install_bwrap.sh"


def _bin(tmp_path: Path, *, uid: int, apt: str | None, bwrap: bool = False) -> Path:
    """A PATH folder: bash + coreutils the script uses, a fake `id`, optionally `apt-get` and `bwrap`."""
    d = tmp_path / "bin"
    d.mkdir()
    for tool in ("bash", "env"):
        os.symlink(shutil.which(tool), d / tool)
    (d / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    if apt is not None:
        # records its arguments; "ok" installs a bwrap on PATH, "fail" exits 100 like apt-get without network
        body = f'echo "$@" >> {tmp_path}/apt.calls\n'
        if apt == "ok":
            body += f'case "$*" in *install*) printf "#!/bin/sh\\n" > {d}/bwrap; chmod +x {d}/bwrap;; esac\nexit 0\n'
        else:
            body += "exit 100\n"
        (d / "apt-get").write_text("#!/bin/sh\n" + body)
    if bwrap:
        (d / "bwrap").write_text("#!/bin/sh\n")
    for f in d.iterdir():
        if not f.is_symlink():
            f.chmod(0o755)
    return d


def _run(bindir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(bindir / "bash"), str(SCRIPT)], env={"PATH": str(bindir)}, capture_output=True, text=True, timeout=60
    )


def _apt_calls(tmp_path: Path) -> list[str]:
    f = tmp_path / "apt.calls"
    return f.read_text().splitlines() if f.exists() else []


def test_nothing_to_do_when_bwrap_is_there(tmp_path):
    r = _run(_bin(tmp_path, uid=0, apt="ok", bwrap=True))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert _apt_calls(tmp_path) == []


def test_root_with_apt_installs_it(tmp_path):
    d = _bin(tmp_path, uid=0, apt="ok")
    r = _run(d)
    assert r.returncode == 0 and "installing bubblewrap" in r.stdout, r
    assert _apt_calls(tmp_path) == ["install -y -qq bubblewrap"]
    assert (d / "bwrap").exists() and "WARNING" not in r.stderr


def test_a_failed_install_warns_with_the_command_and_does_not_fail_setup(tmp_path):
    r = _run(_bin(tmp_path, uid=0, apt="fail"))
    assert r.returncode == 0
    # first try, then one `apt-get update` (empty package lists on a fresh image)
    assert _apt_calls(tmp_path) == ["install -y -qq bubblewrap", "update -qq"]
    assert "WARNING" in r.stderr and "apt-get install -y bubblewrap" in r.stderr


@pytest.mark.parametrize("apt", ["ok", None])
def test_without_root_it_prints_the_one_command(tmp_path, apt):
    r = _run(_bin(tmp_path, uid=1000, apt=apt))
    assert r.returncode == 0 and _apt_calls(tmp_path) == []
    assert "Install it with: sudo apt-get install -y bubblewrap" in r.stderr and "make env-check" in r.stderr


def test_setup_runs_it():
    setup = (SCRIPT.parent / "setup.sh").read_text()
    assert "bash scripts/install_bwrap.sh" in setup
