"""Stopping a launch stops every descendant, including ones in sessions of their own (as torchrun's workers)."""

from __future__ import annotations

import os
import sys
import time

import psutil

from coderl.training import process_tree

# a parent that starts a child in a new session (what torchrun does with its workers), then waits
PARENT = r"""
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
print("started", flush=True)
time.sleep(300)
"""


def test_kill_tree_reaches_children_in_other_sessions():
    proc = process_tree.start([sys.executable, "-c", PARENT], env=dict(os.environ))
    assert proc.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 30
    while not process_tree.descendants(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    kids = [p.pid for p in process_tree.descendants(proc.pid)]
    assert kids and os.getsid(kids[0]) != os.getsid(proc.pid)  # really in another session
    process_tree.kill_tree(proc, grace_s=5)
    assert proc.poll() is not None
    assert process_tree.wait_gone(kids, timeout_s=5) == []
    assert not psutil.pid_exists(kids[0]) or psutil.Process(kids[0]).status() == psutil.STATUS_ZOMBIE
