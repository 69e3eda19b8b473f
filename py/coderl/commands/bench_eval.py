"""eval-all of tiny-model checkpoints one at a time against in parallel, per backend (benchmark).

`coderl bench-eval [options]`: the options are coderl.evaluation.bench_eval's own, forwarded unchanged
(`coderl bench-eval --help` lists them).
"""

from __future__ import annotations

import argparse

FORWARD_ARGV = True  # coderl.cli hands the arguments after the command name to run() unparsed


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("argv", nargs=argparse.REMAINDER, help="coderl.evaluation.bench_eval's options")


def run(args: argparse.Namespace) -> int:
    from ..evaluation.bench_eval import main

    return int(main(args.argv) or 0)
