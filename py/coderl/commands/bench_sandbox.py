"""sandbox speed against bare runners (benchmark).

`coderl bench-sandbox [options]`: the options are coderl.sandbox.bench's own, forwarded unchanged
(`coderl bench-sandbox --help` lists them).
"""

from __future__ import annotations

import argparse

FORWARD_ARGV = True  # coderl.cli hands the arguments after the command name to run() unparsed


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("argv", nargs=argparse.REMAINDER, help="coderl.sandbox.bench's options")


def run(args: argparse.Namespace) -> int:
    from ..sandbox.bench import main

    return int(main(args.argv) or 0)
