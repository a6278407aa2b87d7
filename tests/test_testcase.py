"""``mockidp.IdPTestCase``: the fixture's provider for unittest and Django's runner."""

from __future__ import annotations

import unittest
import urllib.error
import urllib.request
from typing import ClassVar

import jwt
import pytest

from mockidp import IdPTestCase, MockIdP


def _run(case: type[unittest.TestCase]) -> unittest.TestResult:
    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(case).run(result)
    return result


def test_one_provider_per_class_reset_around_every_test() -> None:
    seen: list[tuple[MockIdP, str, str]] = []

    class Tests(IdPTestCase):
        idp_options: ClassVar[dict[str, object]] = {"alg": "ES256"}

        def test_a_rotates(self) -> None:
            seen.append((self.idp, self.idp.keys.active.kid, self.idp.discovery_url))
            self.idp.keys.rotate()
            self.idp.clock.advance(3600)

        def test_b_sees_the_start_up_state(self) -> None:
            seen.append((self.idp, self.idp.keys.active.kid, self.idp.discovery_url))
            token = self.idp.token()
            key = jwt.PyJWKClient(self.idp.jwks_uri).get_signing_key_from_jwt(token)
            assert jwt.decode(token, key, algorithms=["ES256"], audience=self.idp.audience)

    result = _run(Tests)
    assert result.wasSuccessful(), result.errors + result.failures
    assert result.testsRun == 2
    (first, first_kid, url), (second, second_kid, _) = seen
    assert first is second and first_kid == second_kid  # one provider, reset between tests
    with pytest.raises(urllib.error.URLError):  # stopped after the class
        urllib.request.urlopen(url, timeout=2)


def test_a_request_handler_that_failed_fails_the_test() -> None:
    class Tests(IdPTestCase):
        idp_options: ClassVar[dict[str, object]] = {"alg": "ES256"}

        def test_breaks_a_handler(self) -> None:
            self.idp.endpoint("jwks").transform(lambda doc: doc["nope"])
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(self.idp.jwks_uri, timeout=5)

    result = _run(Tests)
    assert result.testsRun == 1
    (_, traceback), = result.errors
    assert "ServerError" in traceback and "KeyError" in traceback


def test_a_set_up_without_super_still_gets_a_reset_provider() -> None:
    """The reset does not depend on the user's setUp calling super(); a setUpClass that
    forgets super() gets an error that says so."""
    kids: list[str] = []

    class Tests(IdPTestCase):
        idp_options: ClassVar[dict[str, object]] = {"alg": "ES256"}

        def setUp(self) -> None:  # no super().setUp()
            self.marker = 1

        def test_a_rotates(self) -> None:
            kids.append(self.idp.keys.active.kid)
            self.idp.keys.rotate()

        def test_b_sees_the_start_up_key(self) -> None:
            kids.append(self.idp.keys.active.kid)

    result = _run(Tests)
    assert result.wasSuccessful(), result.errors + result.failures
    assert kids[0] == kids[1]

    class Forgetful(IdPTestCase):
        @classmethod
        def setUpClass(cls) -> None:  # no super().setUpClass()
            pass

        def test_uses_the_provider(self) -> None:
            self.idp.token()

    (_, traceback), = _run(Forgetful).errors
    assert "must call super().setUpClass()" in traceback
