"""`coderl <command>`: the one entry point the Makefile calls.

Each command is one module of coderl.commands (`coderl eval-all` -> commands/eval_all.py) holding
argument parsing and printing only: a docstring whose first line is the help `coderl --help` shows,
`add_arguments(parser)` and `run(args) -> int`. The work itself is a function of a stage package
that `run` calls. Only the chosen command's module is imported, so `coderl plan` does not pay for
torch or verl; the table is read from the folder (file names and first docstring lines) without
importing anything.

A command module may set `FORWARD_ARGV = True`: its options belong to another entry point (the
benchmarks, the docs generator), so the arguments after the command name reach `run` unparsed, as
`args.argv`.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import logging
import sys
from pathlib import Path

from .errors import CoderlError

COMMANDS_DIR = Path(__file__).resolve().parent / "commands"


def command_table() -> dict[str, str]:
    """command name -> one-line help, from commands/*.py (file name `-` for `_`; `_`-prefixed files are helpers)."""
    table = {}
    for path in sorted(COMMANDS_DIR.glob("*.py")):
        if path.name.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        table[path.stem.replace("_", "-")] = doc.strip().splitlines()[0].rstrip(".") if doc.strip() else ""
    return table


def _usage(table: dict[str, str]) -> str:
    width = max(map(len, table))
    lines = ["usage: coderl <command> [options]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, help_ in table.items()]
    lines += ["", "coderl <command> --help for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    table = command_table()
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage(table))
        return 0
    name = argv[0]
    if name not in table:
        print(f"coderl: unknown command '{name}'\n\n{_usage(table)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"coderl.commands.{name.replace('-', '_')}")
    parser = argparse.ArgumentParser(prog=f"coderl {name}", description=table[name])
    module.add_arguments(parser)
    if getattr(module, "FORWARD_ARGV", False):
        args = argparse.Namespace(argv=argv[1:])
    else:
        args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except CoderlError as e:
        print(f"coderl {name}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"coderl {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
