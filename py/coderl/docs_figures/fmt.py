"""Number formats shared by every generated table, so one figure reads the same everywhere."""

from __future__ import annotations


def fixed(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}"


def thousands(x: float) -> str:
    return f"{x:,.0f}"


def pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def times(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}x"


def sci(x: float) -> str:
    """A relative difference as 2.6e-4 (two significant digits, three when the third is not 0)."""
    m, e = f"{x:.2e}".split("e")
    m = m.rstrip("0").rstrip(".")
    return f"{m}e{int(e)}"


def bold(s: str, on: bool = True) -> str:
    return f"**{s}**" if on and s else s


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
