"""The hostile corpus (tests/hostile/) and the judge hacks of issue 15, through the RL reward.

Every program is sent as a model would send it (a fenced answer) to a real stdio problem and to a
real functional problem; each must score 0 in the reward's default mode and leave nothing on the
host: no process (each program re-executes itself with a unique marker, searched in /proc), no
file with the marker in /tmp, /var/tmp or /dev/shm, the victim file intact, no connection to a
host port. Limits are shortened (2 s, 256 MB) so the corpus runs in about a minute.
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
from pathlib import Path

import pytest

from coderl.reward import RewardScorer, compute_score, to_ground_truth
from coderl.sandbox import samples
from sandbox.test_sandbox_hostile import HOSTILE, PROGRAMS, PROLOGUE, Listener, _wait_gone

QUEEN = "cluster0/1143_c_queen_2410"


@pytest.fixture(scope="module")
def scorer(eval_config):
    cfg = dataclasses.replace(
        eval_config, sandbox={**eval_config.sandbox, "run_timeout_s": 2.0, "memory_limit_mb": 256, "max_output_mb": 1}
    )
    s = RewardScorer(cfg, workers=1)
    yield s
    s.close()


@pytest.fixture(scope="module")
def problems(shared_data):
    stdio = next(
        p for p, _ in samples.codecontests_train300(shared_data / "codecontests_train300.jsonl") if p.id == QUEEN
    )
    functional = samples.humaneval()[0][0]
    return {"stdio": stdio, "functional": functional}


@pytest.fixture()
def victim_dir():
    d = Path("/var/tmp") / f"coderl-victim-{secrets.token_hex(6)}"
    d.mkdir()
    (d / "victim.txt").write_text("precious")
    d.chmod(0o777)
    (d / "victim.txt").chmod(0o666)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("kind", ["stdio", "functional"])
@pytest.mark.parametrize("name", PROGRAMS)
def test_hostile_answer_scores_zero_and_leaves_nothing(scorer, problems, victim_dir, monkeypatch, name, kind):
    marker = "coderl-hostile-" + secrets.token_hex(8)
    secret = "sk-" + secrets.token_hex(16)
    monkeypatch.setenv("CODERL_FAKE_SECRET_TOKEN", secret)
    listener = Listener()
    try:
        code = (
            (PROLOGUE + (HOSTILE / name).read_text())
            .replace("__MARKER__", marker)
            .replace("__VICTIM_DIR__", str(victim_dir))
            .replace("__PORT__", str(listener.port))
            .replace("__SECRET_NAME__", "CODERL_FAKE_SECRET_TOKEN")
        )
        answer = f"Here is the program.\n\n```python\n{code}\n```\n"
        r = scorer.score(answer, problems[kind])
    finally:
        listener.close()
    assert r["extraction"] == "fenced_python" and r["verdict"] not in ("no_code", "sandbox_error"), r
    assert (r["score"], r["acc"]) == (0.0, 0.0), r
    assert _wait_gone(marker) == [], f"{name}: processes left behind"
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not list(Path(d).glob(f"*{marker}*")), f"{name}: left files in the host's {d}"
    assert (victim_dir / "victim.txt").read_text() == "precious" and not (victim_dir / "pwned.txt").exists()
    assert listener.connections == 0, "the answer reached a host port"


# The two judge hacks of issue 15 (section 3): both pass today's judge and are closed by that
# issue's judge fix. They assert the right outcome; the marks go when the branches are merged.

FD0_TOKEN_READ = "import os\nprint(os.pread(0, 65536, 0).decode(), flush=True)\nos._exit(0)\n"
ALWAYS_EQUAL = """class _AlwaysEqual:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False


def has_close_elements(numbers, threshold):
    return _AlwaysEqual()
"""


@pytest.mark.parametrize("mode", ["binary", "fraction", "pass_plus_fraction"])
def test_fd0_token_read_scores_zero(problems, mode):
    he0 = problems["functional"]
    r = compute_score("humaneval", f"```python\n{FD0_TOKEN_READ}```", to_ground_truth(he0), mode=mode)
    assert r["extraction"] == "fenced_python"
    assert (r["score"], r["verdict"]) != (1.0, "accepted"), r
    assert r["score"] == 0.0


@pytest.mark.parametrize("mode", ["binary", "fraction", "pass_plus_fraction"])
def test_always_equal_return_value_scores_zero(problems, mode):
    he0 = problems["functional"]
    assert he0.entry_point == "has_close_elements"
    r = compute_score("humaneval", f"```python\n{ALWAYS_EQUAL}```", to_ground_truth(he0), mode=mode)
    assert r["extraction"] == "fenced_python"
    assert r["score"] == 0.0 and r["verdict"] != "accepted", r
