"""TOML reading for config and scenario files: the standard library's tomllib, or its backport
tomli on Python 3.10."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ConfigurationError

if sys.version_info >= (3, 11):
    from tomllib import TOMLDecodeError, loads
else:  # pragma: no cover - Python 3.10
    from tomli import TOMLDecodeError, loads

__all__ = ["TOMLDecodeError", "loads", "read"]


def read(path: str | Path, what: str) -> str:
    """The text of a TOML file, which TOML requires to be UTF-8: a file that cannot be read or
    is not UTF-8 (saved as Latin-1 or UTF-16, say) is a :class:`~mockidp.ConfigurationError`
    naming the file, never a ``UnicodeDecodeError`` traceback."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"{path}: {what} is not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "TOML files are UTF-8: save it as UTF-8") from None
