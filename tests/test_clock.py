from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from mockidp import Clock, ConfigurationError


def test_advance_moves_the_clock_without_touching_real_time() -> None:
    clock = Clock()
    clock.advance(timedelta(hours=1))
    assert 3599 < clock.time() - time.time() < 3601
    clock.advance(-7200)
    assert -3601 < clock.time() - time.time() < -3599


def test_freeze_pins_and_unfreeze_resumes_from_there() -> None:
    clock = Clock()
    at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    clock.freeze(at)
    assert clock.now() == at and clock.frozen
    clock.advance(10)
    assert clock.now() == at + timedelta(seconds=10)
    clock.unfreeze()
    assert not clock.frozen
    assert 0 <= clock.time() - (at.timestamp() + 10) < 5
    clock.reset()
    assert abs(clock.time() - time.time()) < 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.freeze(datetime(2030, 1, 1)), "naive datetime"),
        (lambda c: c.freeze("tomorrow"), "cannot use 'tomorrow'"),
        (lambda c: c.advance("1h"), "cannot advance the clock by '1h'"),
    ],
)
def test_bad_input_is_a_configuration_error(call, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match=message):
        call(Clock())


@pytest.mark.parametrize(
    "call",
    [lambda c: c.advance(1e308), lambda c: c.advance(float("nan")), lambda c: c.advance(-1e12),
     lambda c: c.freeze(1e300), lambda c: c.freeze(-1)],
)
def test_the_clock_stays_in_a_representable_range(call) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    with pytest.raises(ConfigurationError, match="outside 1970-01-01"):
        call(clock)
    assert abs(clock.time() - time.time()) < 5
