"""build data/raw/<dataset>_raw.jsonl for every reachable eval dataset.

`coderl data`: build data/raw/<name>_raw.jsonl for every eval dataset reachable from here.
"""

from __future__ import annotations

import argparse

from ..config import load_eval_config
from ..data.build import BuildContext, build_dataset, hub_reachable
from ..data.registry import resolve
from ..errors import DataError
from ..paths import RAW_DIR, shared_data_dir


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--datasets", default="", help="comma-separated names (default: every dataset in configs/datasets.yaml)"
    )
    p.add_argument(
        "--source",
        default=None,
        help="local folder with source files (mbpp.jsonl, CodeContests parquet files, ...); "
        "default: the CODERL_SHARED_DATA folder when set",
    )
    p.add_argument("--raw-dir", default=RAW_DIR)
    p.add_argument("--manifests-dir", default="data/manifests")
    p.add_argument("--cache-dir", default="data/cache", help="download cache of the datasets library")
    p.add_argument("--offline", action="store_true", help="never contact the Hugging Face hub")
    p.add_argument(
        "--exclude-sft",
        default=None,
        help="SFT data JSONL: problems it names (id/name fields) are kept out of codecontests_valid_big",
    )
    p.add_argument("--force", action="store_true", help="rebuild even when the raw file already matches its manifest")
    p.add_argument(
        "--update-manifest",
        action="store_true",
        help="overwrite existing manifests with what was built (then commit them): changes every fingerprint",
    )
    p.add_argument("--config", default=None, help="eval config (default configs/eval.yaml)")


def run(args: argparse.Namespace) -> int:
    cfg = load_eval_config(args.config)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()] or list(cfg.datasets)
    unknown = [n for n in names if n not in cfg.datasets]
    if unknown:
        raise DataError(f"unknown dataset '{unknown[0]}'; defined in configs/datasets.yaml: {', '.join(cfg.datasets)}")
    source = resolve(args.source) if args.source else shared_data_dir()
    if args.source and not source.is_dir():
        raise DataError(f"--source {args.source}: not a folder")
    if source is not None:
        print(f"local sources: {source}")
    online = not args.offline and hub_reachable()
    ctx = BuildContext(
        raw_dir=resolve(args.raw_dir),
        manifests_dir=resolve(args.manifests_dir),
        cache_dir=resolve(args.cache_dir),
        source_dir=source,
        online=online,
        exclude_sft=resolve(args.exclude_sft) if args.exclude_sft else None,
        force=args.force,
        update_manifest=args.update_manifest,
    )
    outcomes = [build_dataset(n, cfg.datasets[n], ctx) for n in names]
    for o in outcomes:
        detail = "see below" if o.status == "unreachable" else o.detail
        print(f"{o.status:>11}  {o.name:<24} {o.count:>4}  {detail}")
    new = [o for o in outcomes if o.manifest_written]
    for o in new:
        print(
            f"NEW MANIFEST {o.manifest_written}: commit it (git add {o.manifest_written}) so every eval verifies against it"
        )
    missing = [o for o in outcomes if o.status == "unreachable"]
    if missing:
        print(f"\nnot built ({len(missing)}):")
        for o in missing:
            print(f"  {o.name}: {o.detail}")
    # Named datasets must all build; the default "everything reachable" succeeds if anything did.
    return 1 if missing and (args.datasets or len(missing) == len(outcomes)) else 0
