"""The ``idp`` fixture for unittest and the runners built on it (Django's among them).

A test class gets one provider, started with the class and stopped after it, and reset to its
start-up state around every test — what the pytest fixture gives. Making a ``MockIdP()`` per
test works too, but every provider needs keys of its own; reusing one and resetting it (a
restore of a snapshot, microseconds) costs nothing per test.
"""

from __future__ import annotations

import unittest
from typing import Any, ClassVar

from .provider import MockIdP

__all__ = ["IdPTestCase"]


class IdPTestCase(unittest.TestCase):
    """A ``unittest.TestCase`` with a provider in ``self.idp``, started with the class,
    stopped after it and reset to its start-up state around every test.

    With Django's runner, list it first: ``class MyTests(IdPTestCase, django.test.TestCase)``
    (both derive from ``unittest.TestCase``, so the class hooks of both run). ``idp_options``
    are the keywords of :class:`MockIdP` (``alg``, ``profile``, ``profile_options``, ...). A
    request handler that failed during a test fails that test, as with the pytest fixture."""

    #: Keywords for the class's :class:`MockIdP`.
    idp_options: ClassVar[dict[str, Any]] = {}
    #: The class's provider, started in ``setUpClass``.
    idp: ClassVar[MockIdP]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.idp = MockIdP(**cls.idp_options).start()
        cls.addClassCleanup(cls.idp.stop)

    def run(self, result: unittest.TestResult | None = None) -> unittest.TestResult | None:
        # Reset and check here, not in setUp: a test class that overrides setUp without
        # calling super() still gets a fresh provider. unittest has run setUpClass by now.
        idp = getattr(self, "idp", None)
        if isinstance(idp, MockIdP):
            idp.reset()
            # Cleanups run last in, first out: check what the test's requests did, then reset.
            self.addCleanup(idp.reset)
            self.addCleanup(idp.check)
        return super().run(result)

    def __getattr__(self, name: str) -> Any:
        if name == "idp":
            raise AttributeError(f"{type(self).__name__} has no provider: its setUpClass must "
                                 "call super().setUpClass(), which starts self.idp")
        raise AttributeError(name)
