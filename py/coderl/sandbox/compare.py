"""Output comparison rules for stdin/stdout problems (docs/judging.md has the examples).

- ``codecontests`` (default): split both outputs on any whitespace and compare token by token;
  every token is lower-cased (as DeepMind's tester does: ``YES`` = ``yes``); two integer literals
  match only when they are the same integer (exact, any size); two tokens that both read as
  decimal numbers, at least one not an integer, match when they differ by less than 1e-5
  (absolute); otherwise they must be identical strings. The token counts must be equal. This is
  CodeContests/AlphaCode's rule; docs/judging.md names the one deliberate difference from
  DeepMind's code (integers beyond 32 bits are exact here, doubles there).
- ``line`` (SandboxFusion's variant): strip trailing whitespace of every line and drop trailing
  blank lines, then the lines must be identical.
- ``exact``: byte-for-byte identical text.
"""

from __future__ import annotations

import re

ABS_TOL = 1e-5
COMPARE_MODES = ("codecontests", "line", "exact")
# Only plain decimal numbers count as numbers: "nan", "inf", "1_000" and hex stay strings.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_INTEGER = re.compile(r"([+-]?)0*(\d+)\Z")


def _integer(token: str) -> tuple[bool, str] | None:
    """(negative, digits without leading zeros) of an integer literal, else None.

    Compared as text, not through float (2**53+1 == 2**53 as floats) nor int() (Python refuses
    to convert more than 4300 digits): exact at any size.
    """
    m = _INTEGER.match(token)
    if m is None:
        return None
    return (m.group(1) == "-" and m.group(2) != "0", m.group(2))


def _tokens_match(got: str, want: str) -> bool:
    got, want = got.lower(), want.lower()
    if got == want:
        return True
    gi, wi = _integer(got), _integer(want)
    if gi is not None and wi is not None:
        return gi == wi
    if _NUMBER.match(got) and _NUMBER.match(want):
        try:
            return abs(float(got) - float(want)) < ABS_TOL  # strict, as DeepMind's ValuesMatch
        except OverflowError:
            return False
    return False


def compare_codecontests(got: str, want: str) -> bool:
    g, w = got.split(), want.split()
    return len(g) == len(w) and all(_tokens_match(a, b) for a, b in zip(g, w))


def _norm_lines(text: str) -> list[str]:
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def compare_line(got: str, want: str) -> bool:
    return _norm_lines(got) == _norm_lines(want)


def compare_exact(got: str, want: str) -> bool:
    return got == want


def get_comparator(mode: str):
    try:
        return {"codecontests": compare_codecontests, "line": compare_line, "exact": compare_exact}[mode]
    except KeyError:
        from ..errors import ConfigError

        raise ConfigError(
            f"unknown stdio comparison rule {mode!r}; choose one of {', '.join(COMPARE_MODES)} "
            "(configs/eval.yaml judge.stdio_compare)"
        ) from None
