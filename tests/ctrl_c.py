"""Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group, then a check with
psutil that every process the command started is gone within the limit (issue 17: 10 s)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil

from coderl.training.process_tree import with_default_sigint

STOP_LIMIT_S = 10.0


def start_in_foreground_group(cmd: list[str], **kw) -> subprocess.Popen:
    """The command as a shell runs it in a terminal: its own process group (a terminal signals the
    whole group), SIGINT at its default (a suite started in the background, `make test &` or nohup,
    passes SIGINT on ignored; then the command really does ignore Ctrl-C)."""
    return subprocess.Popen(
        with_default_sigint(cmd),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        **kw,
    )


def tree(proc: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return out


def ctrl_c(proc: subprocess.Popen, started: list[psutil.Process]) -> tuple[int, float, str, list[str]]:
    """SIGINT to proc's process group; (exit code, seconds until the command and everything it
    started were gone, its output, survivors after the limit)."""
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=STOP_LIMIT_S + 20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    psutil.wait_procs(started, timeout=max(0.0, STOP_LIMIT_S - (time.monotonic() - t0)))
    took = time.monotonic() - t0
    survivors = alive(started)
    for p in started:  # leave nothing behind for the next test, whatever the outcome
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    return proc.returncode, took, out, survivors
