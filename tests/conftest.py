"""Fixtures shared by the test modules."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (no browser download).

    Module scope, not session: Playwright's sync API keeps an event loop marked as running in
    the main thread while it lives, and ``asyncio.run()`` in a later test of the same worker
    (the async consumers' recipes) would fail."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "the browser tests need Chromium (Debian package 'chromium')"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            yield chromium
        finally:
            chromium.close()
