"""Generated spans in markdown: `<!-- figures:NAME -->` ... `<!-- /figures:NAME -->`.

A span is replaced whole by what the generator NAME renders. A block (a table) keeps its own
lines between the markers; an inline span (a figure in a sentence) stays on its line. HTML
comments do not render, so the published page reads as if typed by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import ConfigError

OPEN = re.compile(r"<!-- figures:([\w.\-]+) -->")
CLOSE = re.compile(r"<!-- /figures:([\w.\-]+) -->")


def _close(name: str) -> str:
    return f"<!-- /figures:{name} -->"


def names(text: str) -> list[str]:
    return OPEN.findall(text)


def fill(text: str, render: Callable[[str], str], where: str) -> str:
    """`text` with every span's content replaced by render(NAME); `where` names the file in errors."""
    opened, closed = OPEN.findall(text), CLOSE.findall(text)
    stray = sorted(set(closed) - set(opened))
    if stray:
        raise ConfigError(f"{where}: closing marker for {stray[0]!r} without its opening <!-- figures:{stray[0]} -->")
    out, pos = [], 0
    for m in OPEN.finditer(text):
        if m.start() < pos:
            raise ConfigError(f"{where}: figures span {m.group(1)!r} opens inside another span; close the first one")
        name = m.group(1)
        end = text.find(_close(name), m.end())
        if end < 0:
            line = text.count("\n", 0, m.start()) + 1
            raise ConfigError(f"{where}:{line}: figures span {name!r} is never closed; add {_close(name)}")
        inner = text[m.end() : end]
        if OPEN.search(inner):
            raise ConfigError(f"{where}: figures span {name!r} contains another span; spans do not nest")
        body = render(name)
        block = inner.startswith("\n")
        out += [text[pos : m.end()], f"\n{body}\n" if block else body]
        pos = end
    out.append(text[pos:])
    return "".join(out)
