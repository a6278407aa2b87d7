"""Every Python example in the README and docs/ runs: test modules under pytest with the
plugin (in-process pytest sessions that load it from its entry point), other snippets as
scripts in a fresh interpreter."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def is_recipe(code: str) -> bool:
    """A block that is a recipe module as it stands in examples/recipes/ (docs/recipes.md):
    it runs there, as a test module of the suite."""
    first, _, rest = code.partition("\n")
    if not first.startswith("# examples/recipes/"):
        return False
    path = ROOT / first.removeprefix("# ")
    return path.is_file() and rest in path.read_text()


def examples() -> list[pytest.param]:  # type: ignore[valid-type]
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for match in BLOCK.finditer(text):
            if is_recipe(match.group(1)):
                continue
            line = text.count("\n", 0, match.start()) + 1
            found.append(pytest.param(match.group(1), id=f"{doc.name}:{line}"))
    return found


def test_there_are_examples() -> None:
    assert len(examples()) >= 4


def test_recipe_blocks_are_the_recipe_files() -> None:
    recipes = ROOT / "docs" / "recipes.md"
    blocks = [m.group(1) for m in BLOCK.finditer(recipes.read_text())]
    assert blocks and all(is_recipe(block) for block in blocks)
    assert not is_recipe("# examples/recipes/test_recipe_pyjwt.py\nimport os\n")


@pytest.mark.parametrize("code", examples())
def test_example_runs(code: str, pytester: pytest.Pytester) -> None:
    if re.search(r"^def test_", code, re.MULTILINE):
        pytester.makepyfile(test_example=code)
        result = pytester.runpytest("-p", "no:randomly")
        tests = len(re.findall(r"^def test_", code, re.MULTILINE))
        outcomes = result.parseoutcomes()
        assert result.ret == 0, result.stdout.str()
        assert outcomes.get("passed", 0) >= tests and set(outcomes) <= {"passed", "seconds"}
    else:
        script = pytester.makepyfile(example=code)
        run = subprocess.run([sys.executable, "-W", "error", str(script)],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr


TOML_BLOCK = re.compile(r"^```toml\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_toml_examples_are_valid_configs() -> None:
    from mockidp import MockIdP
    from mockidp.drivers._toml import loads
    from mockidp.drivers.config import Config

    blocks = [m.group(1) for doc in DOCS for m in TOML_BLOCK.finditer(doc.read_text())]
    assert blocks
    for block in blocks:
        config = Config.from_data(loads(block), "README")
        config.apply(MockIdP(**config.provider_options()))
