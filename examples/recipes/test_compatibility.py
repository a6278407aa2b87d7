"""docs/recipes.md and docs/compatibility.md are what the recipes make of them now."""

from __future__ import annotations

import compatibility


def test_recipes_page_is_current() -> None:
    path = compatibility.DOCS / "recipes.md"
    assert path.read_text() == compatibility.recipes_page(), (
        "docs/recipes.md is stale: run python examples/recipes/compatibility.py --write")


def test_compatibility_table_is_current() -> None:
    path = compatibility.DOCS / "compatibility.md"
    assert path.read_text() == compatibility.compatibility_page(), (
        "docs/compatibility.md is stale: run python examples/recipes/compatibility.py --write")


def test_every_recipe_is_on_the_page() -> None:
    page = compatibility.recipes_page()
    for path in compatibility.RECIPES:
        assert compatibility.code(path) in page
