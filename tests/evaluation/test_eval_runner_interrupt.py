"""Ctrl-C inside the evaluation loop's own code is the user's, never a verdict (no subprocess: fast)."""

from __future__ import annotations

import os
import queue
import signal
import time
from concurrent.futures import Future

import pytest

from coderl.data.problem import Problem
from coderl.evaluation.runner import _Execution


def test_ctrl_c_while_a_verdict_is_recorded_stops_the_run_instead_of_becoming_a_sandbox_error():
    """A verdict's callback runs in the main thread when the judge finished before it was attached; a
    Ctrl-C landing there once became "sandbox_error: judge raised KeyboardInterrupt()" and the run went on
    (CI, 2026-12-01). Here the real SIGINT arrives while the verdict is being cached."""

    class CacheInterruptedByCtrlC:
        def add_record(self, problem_id, rec):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # Python raises KeyboardInterrupt here, in the main thread

    run = _Execution.__new__(_Execution)  # only what _on_judged touches
    run.caches, run.results = {"toy": CacheInterruptedByCtrlC()}, queue.Queue()
    problem = Problem(id="toy/1", dataset="toy", kind="stdio", prompt="p", tests=[{"input": "", "output": ""}])
    judged = Future()
    judged.set_result({"verdict": "accepted"})
    # SIGINT as Python has it in a terminal (a suite started in the background inherits it ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            judged.add_done_callback(lambda f: run._on_judged(problem, {"completion": "x"}, None, "h", f))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert run.results.empty()  # nothing recorded as the model's


def test_a_judge_that_raises_is_an_infrastructure_failure_not_the_models():
    run = _Execution.__new__(_Execution)
    run.caches, run.results = {}, queue.Queue()
    problem = Problem(id="toy/1", dataset="toy", kind="stdio", prompt="p", tests=[{"input": "", "output": ""}])
    broken = Future()
    broken.set_exception(RuntimeError("sandbox exploded"))
    broken.add_done_callback(lambda f: run._on_judged(problem, {"completion": "x"}, None, "h", f))
    rec = run.results.get_nowait()
    assert rec["verdict"] == "sandbox_error" and "sandbox exploded" in rec["detail"]  # never cached, retried
