"""No import cycle inside the coderl package: the module import graph, read with `ast`, is acyclic.

Every import counts, including those inside functions (a lazy import still ties two modules
together; it only hides the cycle until the function runs). Imports under `if TYPE_CHECKING:`
never run and are left out. `from pkg import name` points at pkg.name when that is a module, else at pkg.
"""

from __future__ import annotations

import ast
from pathlib import Path

import coderl

PACKAGE_DIR = Path(coderl.__file__).resolve().parent


def module_files(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the package (a package is its __init__.py)."""
    root = package_dir.parent
    out = {}
    for f in sorted(package_dir.rglob("*.py")):
        parts = list(f.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = f
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """Import nodes that run, skipping the bodies of `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for sub in node.orelse for n in _imports(ast.Module(body=[sub], type_ignores=[])))
            continue
        yield from _imports(node)


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """module -> the package modules it imports."""
    files = module_files(package_dir)
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, f in files.items():
        is_pkg = f.name == "__init__.py"
        here = mod.split(".") if is_pkg else mod.split(".")[:-1]  # the package relative imports start from
        for node in _imports(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = here[: len(here) - node.level + 1] if node.level else []
                base_name = ".".join(base + ([node.module] if node.module else []))
                targets = [
                    f"{base_name}.{a.name}" if f"{base_name}.{a.name}" in files else base_name for a in node.names
                ]
            graph[mod] |= {t for t in targets if t in files and t != mod}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search, colouring nodes on the current path)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n) :] + [n]
            if n not in state and (c := visit(n)):
                return c
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (c := visit(m)):
            return c
    return None


def test_graph_sees_relative_lazy_and_submodule_imports(tmp_path):
    """The reader itself: a cycle made of a lazy import and a `from . import submodule` is found."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from . import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import g\n")
    (pkg / "c.py").write_text(
        "from .sub.a import x\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.d\n"
    )
    (pkg / "d.py").write_text("import pkg.c\n")
    graph = import_graph(pkg)
    assert graph["pkg.sub.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.c"}
    assert graph["pkg.c"] == {"pkg.sub.a"}  # the TYPE_CHECKING import of pkg.d is not an edge
    assert find_cycle(graph) == ["pkg.c", "pkg.sub.a", "pkg.sub.b", "pkg.c"]
    (pkg / "sub" / "b.py").write_text("")
    assert find_cycle(import_graph(pkg)) is None


def test_coderl_has_no_import_cycle():
    graph = import_graph(PACKAGE_DIR)
    assert len(graph) > 50 and graph["coderl.sandbox.pool"]  # the whole package was read
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle) + " (move the shared part into its own module)"
