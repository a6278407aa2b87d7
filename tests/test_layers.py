"""The layout is the architecture (docs/architecture.md): the core imports neither Werkzeug nor
the web face, the drivers nor the facade; the web face never imports the facade; and no module
imports another that imports it back — counting every import, type-only and function-level ones
included, because each is a dependency all the same."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import mockidp

PACKAGE = Path(mockidp.__file__).parent


def _module(path: Path) -> str:
    parts = ["mockidp", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> every module (of mockidp or outside) it imports, anywhere in its text."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names
                             if f"{base}.{alias.name}" in modules)
        # A module of this package, by its longest known prefix; the package root is the
        # facade's lazy table, not a dependency.
        graph[name] = {_owner(t, modules) for t in found} - {name, "mockidp", ""}
    return graph


def _owner(target: str, modules: dict[str, Path]) -> str:
    if not target.startswith("mockidp"):
        return target
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target


GRAPH = _imports()


def test_no_import_cycle() -> None:
    internal = {m: {t for t in deps if t.startswith("mockidp")} for m, deps in GRAPH.items()}
    try:
        tuple(TopologicalSorter(internal).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


@pytest.mark.parametrize(("layer", "forbidden"), [
    ("mockidp.core", ("werkzeug", "mockidp.web", "mockidp.drivers", "mockidp.provider",
                      "mockidp.plugin", "mockidp.cli")),
    ("mockidp.drivers", ("werkzeug", "mockidp.web", "mockidp.plugin", "mockidp.cli")),
    ("mockidp.web", ("mockidp.provider", "mockidp.plugin", "mockidp.cli")),
])
def test_layers_import_only_what_is_below_them(layer: str, forbidden: tuple[str, ...]) -> None:
    wrong = {f"{module} imports {target}" for module, deps in GRAPH.items()
             if module.startswith(layer) for target in deps
             if target.startswith(forbidden)}
    assert not wrong


def test_moved_modules_keep_their_old_names() -> None:
    """Modules moved into the layers' packages are still importable where they were."""
    from importlib import import_module

    for name, layer in mockidp._MOVED.items():
        module = import_module(f"mockidp.{name}")
        assert module is import_module(f"mockidp.{layer}.{name}")
        # It keeps its own spec, so its relative imports still resolve without a warning.
        assert module.__spec__.name == module.__name__ == f"mockidp.{layer}.{name}"
    from mockidp.remote import RemoteAuthError  # as code written before the move has it

    assert RemoteAuthError is mockidp.RemoteAuthError
