"""Argument checks shared across the layers, each raising a ``ConfigurationError`` that names
the argument, the value and what would do."""

from __future__ import annotations

import re

from ..errors import ConfigurationError

__all__ = ["http_url", "whole_number"]

_URL = re.compile(r"https?://[^/?#\s]+(/[^?#\s]*)?")
_ORIGIN = re.compile(r"https?://[^/?#\s]+")


def whole_number(name: str, value: object, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` if it is an int (not a bool) in ``minimum..maximum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (
            maximum is not None and value > maximum):
        limits = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigurationError(f"{name} must be a whole number {limits}, not {value!r}")
    return value


def http_url(name: str, value: object, *, origin: bool = False) -> str:
    """``value`` if it is an absolute http(s) URL without query or fragment (an origin — no
    path — with ``origin=True``)."""
    if not isinstance(value, str) or not (_ORIGIN if origin else _URL).fullmatch(value):
        example = "'http://localhost:3000'" if origin else "'http://127.0.0.1:8080'"
        raise ConfigurationError(f"{name} must be an absolute http(s) "
                                 f"{'origin' if origin else 'URL without query or fragment'} "
                                 f"like {example}, not {value!r}")
    return value
