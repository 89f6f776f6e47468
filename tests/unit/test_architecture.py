"""The shape of the package, kept true by tests (issue 12): small modules, no import
cycles, the domain never imports the CLI, one place for labels and environment keys."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "compose_cilo"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


NAMES = {module_name(p): p for p in MODULES}


def imports(path: Path) -> set[str]:
    """Every compose_cilo module `path` imports, at the top or inside a function."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                found = next((m for m in (f"{target}.{alias.name}", target) if m in NAMES), None)
                if found and found != here:
                    out.add(found)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in NAMES)
    return out


GRAPH = {name: imports(path) for name, path in NAMES.items()}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_no_import_cycle() -> None:
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(name):], name]))
        if name in done:
            return
        for dep in sorted(GRAPH[name]):
            visit(dep, [*trail, name])
        done.add(name)

    for name in sorted(GRAPH):
        visit(name, [])


def test_the_domain_never_imports_the_cli() -> None:
    offenders = {name: sorted(d for d in deps if d.startswith("compose_cilo.cli"))
                 for name, deps in GRAPH.items()
                 if not name.startswith("compose_cilo.cli") and name != "compose_cilo.__main__"}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_labels_and_environment_keys_are_spelled_in_model_py_only() -> None:
    label = re.compile(r"""["']cilo\.[a-z_]+["']""")
    key = re.compile(r"""\{[^{}]*(\[["']project["']\]|\bproject)\}/\{[^{}]*(\[["']name["']\]|\benv)\}""")
    found = []
    for path in MODULES:
        if path.name == "model.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if label.search(line) or key.search(line):
                found.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
    assert found == []
