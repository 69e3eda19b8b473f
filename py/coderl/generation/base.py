"""What every generation backend is: a context manager whose generate() yields records as they finish."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..data.problem import Problem
from .records import Generation

Item = tuple[Problem, list[dict]]


class Backend:
    """Subclasses implement generate(); __enter__/__exit__ start and stop whatever they need."""

    name = "backend"

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass

    def generate(self, items: Iterable[Item]) -> Iterator[Generation]:
        raise NotImplementedError


def greedy_params(cfg) -> dict:
    """The sampling parameters, read only from cfg.generation (the fingerprinted section)."""
    g = cfg.generation
    return {
        "temperature": float(g["temperature"]),
        "top_p": float(g["top_p"]),
        "max_new_tokens": int(g["max_new_tokens"]),
        "seed": int(g.get("seed", 0)),
    }
