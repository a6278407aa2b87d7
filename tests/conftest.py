"""Fixtures shared by the test modules."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# The other pytest plugins installed with the test extra (schemathesis, hypothesis, xdist,
# randomly, faker, anyio, ...), by entry point name.
OTHER_PLUGINS = sorted({ep.name for ep in entry_points(group="pytest11")
                        if ep.dist is None or ep.dist.name != "mockidp"})


@pytest.fixture(scope="session")
def imported_before_inline_runs() -> None:
    """cryptography's Python layer and mockidp, imported in this process before pytester's
    first in-process run, with one provider that makes keys, a TLS certificate and a user.

    An in-process run forgets the modules first imported during it (pytester's ``sys.modules``
    snapshot), and the next run imports them again. cryptography cannot be imported twice: its
    Rust core keeps the classes of the first import (a second ``serialization`` module gives
    "TypeError: Encryption algorithm must be a KeySerializationEncryption instance"); nor can
    mockidp, whose RSA pool hands keys across runs."""
    import cryptography.hazmat.primitives
    import cryptography.x509

    import mockidp

    for package in (cryptography.hazmat.primitives, cryptography.x509, mockidp):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    with mockidp.MockIdP(tls=True) as idp:
        for alg in ("RS256", "ES256", "EdDSA", "HS256"):
            idp.token(alg=alg)
        idp.id_token()


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
             imported_before_inline_runs: None) -> pytest.Pytester:
    """pytester whose pytest runs, in-process or in a subprocess (and its xdist workers),
    load mockidp's plugin from its entry point, as a user's project does, and none of the
    other installed plugins: loading those costs a subprocess about 1.5 s and proves nothing
    about mockidp. A test that needs one names it again, e.g. ``runpytest("-p", "xdist")``."""
    monkeypatch.setenv("PYTEST_ADDOPTS", " ".join(f"-p no:{name}" for name in OTHER_PLUGINS))
    return pytester


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
