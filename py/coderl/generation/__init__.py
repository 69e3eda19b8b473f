"""Generation: prompts, code extraction and model backends (OpenAI client, vLLM server, HF, oracle).

Cheap names are re-exported here; backends (which pull in requests/torch) load on first use.
"""

from .extract import Extraction, extract_code, extract_for_problem
from .prompts import build_messages, template_name
from .records import Generation

__all__ = [
    "Extraction",
    "Generation",
    "build_messages",
    "extract_code",
    "extract_for_problem",
    "make_backend",
    "template_name",
]


def make_backend(kind, **kwargs):  # noqa: D103 - documented in backends.make_backend
    from .backends import make_backend as _make

    return _make(kind, **kwargs)
