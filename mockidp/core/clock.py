"""The provider's own clock.

Every time claim the provider mints (``iat``, ``nbf``, ``exp``, ``auth_time``) is read from this
clock, so a test can move the provider through time without touching the consumer's clock (which
is what an IdP whose clock drifts looks like to a consumer). Nothing global is patched.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Clock"]

Instant = datetime | float | int

#: The clock stays between the epoch and the end of year 9999: HTTP dates, datetimes and every
#: JWT library can represent that range.
MIN_TIME, MAX_TIME = 0.0, 253_402_300_799.0


def _in_range(stamp: float, what: str) -> float:
    if not MIN_TIME <= stamp <= MAX_TIME:  # also false for NaN
        raise ConfigurationError(
            f"{what} would put the provider's clock at {stamp!r}, outside 1970-01-01 .. "
            "9999-12-31"
        )
    return stamp


def _as_timestamp(at: Instant) -> float:
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ConfigurationError(
                f"naive datetime {at!r}: give a timezone-aware datetime "
                "(e.g. datetime(..., tzinfo=timezone.utc)) or a POSIX timestamp"
            )
        return at.timestamp()
    if isinstance(at, bool) or not isinstance(at, int | float):
        raise ConfigurationError(
            f"cannot use {at!r} as a point in time: give an aware datetime or a POSIX timestamp"
        )
    return float(at)


def _as_seconds(delta: timedelta | float | int) -> float:
    if isinstance(delta, timedelta):
        return delta.total_seconds()
    if isinstance(delta, bool) or not isinstance(delta, int | float):
        raise ConfigurationError(
            f"cannot advance the clock by {delta!r}: give seconds or a timedelta"
        )
    return float(delta)


class Clock:
    """Wall-clock time plus an offset, or a frozen instant.

    ``advance`` moves the clock (negative values move it back); ``freeze`` pins it so that a test
    can predict claims exactly; ``unfreeze`` lets it run again from the frozen instant.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen: float | None = None
        #: Called with the new time after each advance / freeze (scenarios listen).
        self.listeners: list[Callable[[float], object]] = []

    def time(self) -> float:
        """The provider's current POSIX timestamp."""
        frozen = self._frozen
        return frozen if frozen is not None else time.time() + self._offset

    def now(self) -> datetime:
        """The provider's current time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    def advance(self, delta: timedelta | float | int) -> None:
        seconds = _as_seconds(delta)
        with self._lock:
            _in_range(self.time() + seconds, f"advance({delta!r})")
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds
        self._moved()

    def freeze(self, at: Instant | None = None) -> None:
        """Stop the clock at ``at`` (default: its current time)."""
        stamp = self.time() if at is None else _in_range(_as_timestamp(at), f"freeze({at!r})")
        with self._lock:
            self._frozen = stamp
        self._moved()

    def _moved(self) -> None:
        now = self.time()
        for listener in list(self.listeners):
            listener(now)

    def unfreeze(self) -> None:
        """Let a frozen clock run again, continuing from the instant it was frozen at."""
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - time.time()
                self._frozen = None

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def reset(self) -> None:
        """Back to real time, with no listeners."""
        with self._lock:
            self._offset = 0.0
            self._frozen = None
        self.listeners.clear()

    def __repr__(self) -> str:
        state = "frozen" if self.frozen else "running"
        return f"<Clock {state} at {self.now().isoformat()}>"
