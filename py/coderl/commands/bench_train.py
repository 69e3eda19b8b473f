"""SFT training speed: the runbook recipe and the fast recipe side by side (benchmark).

`coderl bench-train [options]`: the options are coderl.training.benchmarks.bench's own, forwarded unchanged
(`coderl bench-train --help` lists them).
"""

from __future__ import annotations

import argparse

FORWARD_ARGV = True  # coderl.cli hands the arguments after the command name to run() unparsed


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("argv", nargs=argparse.REMAINDER, help="coderl.training.benchmarks.bench's options")


def run(args: argparse.Namespace) -> int:
    from ..training.benchmarks.bench import main

    return int(main(args.argv) or 0)
