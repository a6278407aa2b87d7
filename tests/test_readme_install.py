"""The README tells a newcomer what to install for each example: what its Python blocks import
beyond mockidp's own dependencies is named with ``pip install`` right before the block; the
PyJWT floor has what the examples call; and the test command says which tests need a browser."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import jwt

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
#: What installing mockidp brings (pyproject.toml's dependencies), by import name.
INSTALLED = {"mockidp", "jwt", "cryptography", "faker", "pytest", "werkzeug"}


def imports(code: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_each_block_names_what_it_needs_beyond_mockidp() -> None:
    for match in BLOCK.finditer(README):
        extra = imports(match.group(1)) - INSTALLED - set(sys.stdlib_module_names)
        before = README[max(0, match.start() - 600):match.start()]
        for module in extra:
            assert f"pip install {module}" in before, (
                f"README block at line {README.count(chr(10), 0, match.start()) + 1} imports "
                f"{module}: say `pip install {module}` just before it")


def test_the_pyjwt_floor_has_what_the_examples_call() -> None:
    """``PyJWKClient(cooldown_duration=...)`` came in PyJWT 2.14."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    floor = re.search(r'"pyjwt>=(\d+)\.(\d+)"', pyproject)
    assert floor is not None
    assert "cooldown_duration" in README
    assert (int(floor[1]), int(floor[2])) >= (2, 14)
    assert "cooldown_duration" in jwt.PyJWKClient.__init__.__code__.co_varnames


def test_the_browser_tests_are_the_ones_the_readme_names() -> None:
    """Every test that takes the ``browser`` fixture is named in the README's Tests section and
    is left out by its ``-k "not real_browser"``."""
    users = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_") and any(
                    arg.arg == "browser" for arg in node.args.args):
                users.append(node.name)
    assert len(users) == 5
    tests_section = README.split("\n## Tests\n", 1)[1].split("\n## ", 1)[0]
    assert '-k "not real_browser"' in tests_section and "`chromium`" in tests_section
    for name in users:
        assert "real_browser" in name and f"`{name}`" in tests_section
