"""regenerate (or --check) the docs' generated figures from the committed raw results.

`coderl docs-figures [options]`: the options are coderl.docs_figures.cli's own, forwarded unchanged
(`coderl docs-figures --help` lists them).
"""

from __future__ import annotations

import argparse

FORWARD_ARGV = True  # coderl.cli hands the arguments after the command name to run() unparsed


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("argv", nargs=argparse.REMAINDER, help="coderl.docs_figures.cli's options")


def run(args: argparse.Namespace) -> int:
    from ..docs_figures.cli import main

    return int(main(args.argv) or 0)
