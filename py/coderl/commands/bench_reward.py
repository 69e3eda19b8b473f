"""the RL reward on a GRPO-like batch: solutions judged per second (benchmark).

`coderl bench-reward [options]`: the options are coderl.reward.bench's own, forwarded unchanged
(`coderl bench-reward --help` lists them).
"""

from __future__ import annotations

import argparse

FORWARD_ARGV = True  # coderl.cli hands the arguments after the command name to run() unparsed


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("argv", nargs=argparse.REMAINDER, help="coderl.reward.bench's options")


def run(args: argparse.Namespace) -> int:
    from ..reward.bench import main

    return int(main(args.argv) or 0)
