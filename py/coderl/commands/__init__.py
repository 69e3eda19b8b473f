"""One module per `coderl <command>` (file name = command, `-` -> `_`): argument parsing and printing only.

coderl.cli reads the table from this folder; files starting with `_` are shared helpers, not commands.
"""
