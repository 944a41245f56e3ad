"""The house's shape: the site's wiring (tracestudy) above the apps, the apps importing one way (traces,
then studyapp, then analysis), and no import circles between modules, counting the imports made inside
functions (a circle dodged by importing late is still a circle)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Lowest first: a package may import only those before it.
LAYERS = ("traces", "studyapp", "analysis", "tracestudy")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> set[str]:
    """The first-party modules a file imports, wherever in the file (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names = [f"{base}.{alias.name}" for alias in node.names]  # a module, else a name in base
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] in LAYERS)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")
             if "migrations" not in p.parts}
    graph = {}
    for module, path in files.items():
        # "from x import y" names the module x.y, else a name in x: keep the longest that is a module
        targets = set()
        for name in _imports(path, module):
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_there_are_no_import_circles():
    assert _circles(_graph()) == []


def test_each_package_imports_only_what_lies_below_it():
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items() for target in targets
        if LAYERS.index(target.split(".")[0]) > LAYERS.index(module.split(".")[0])
    )
    assert upward == []


def test_the_checker_finds_a_circle_and_an_upward_import():
    """The checks above cannot pass by finding nothing."""
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = _graph()
    assert "studyapp.models" in graph["studyapp.services"]
    assert "traces.models" in graph["studyapp.stimulus_builder"]
    assert "analysis.api" in graph["tracestudy.api_urls"]
