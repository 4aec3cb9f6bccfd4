"""The guard's settings checks and counters, the same for the Flask and the ASGI guard.

Each check takes ``label``, the setting as its guard names it (``CACHEWARD_KEY_HEADER``
in Flask, ``key_header`` in ASGI), so that an error names what the user wrote.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ConfigurationError
from .downstream import Downstream
from .secret import Secrets


@dataclass
class Counters:
    """What the guard counts on top of the backend's own statistics."""

    hits: int = 0
    misses: int = 0
    stored: int = 0
    not_stored: int = 0
    unkeyed_input: int = 0
    backend_errors: int = 0
    bypass: int = 0
    foreign_entries: int = 0


def required_secrets(secret: str | bytes | list[str | bytes] | None, label: str) -> Secrets:
    """The application secrets.

    :raises ConfigurationError: none given.
    """
    if not secret:
        raise ConfigurationError(
            f"{label} is required: it keys the cache scopes and entry tags."
            " Generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return Secrets(secret)


def downstream_mode(value: object, label: str) -> Downstream:
    """:raises ConfigurationError: ``value`` names no :class:`Downstream` mode."""
    try:
        return Downstream(value)
    except ValueError:
        choices = ", ".join(d.value for d in Downstream)
        raise ConfigurationError(f"{label} must be one of: {choices}") from None


def _is_header_name(name: object) -> bool:
    return isinstance(name, str) and bool(name) and name.replace("-", "").isalnum()


def check_key_header(name: str, label: str) -> None:
    """:raises ConfigurationError: ``name`` is no header name, or is ``Authorization``
    (always accepted as ``Bearer``)."""
    if not _is_header_name(name):
        raise ConfigurationError(f"{label} is not a header name: {name!r}")
    if name.lower() == "authorization":
        raise ConfigurationError(
            f"{label}: Authorization: Bearer is always accepted; name another header"
        )


def check_credential_headers(names: Iterable[object], label: str) -> None:
    """:raises ConfigurationError: one of ``names`` is no header name."""
    for name in names:
        if not _is_header_name(name):
            raise ConfigurationError(f"{label}: not a header name: {name!r}")


def check_positive(number: object, label: str) -> None:
    """:raises ConfigurationError: ``number`` is not a positive finite number."""
    if (
        isinstance(number, bool)
        or not isinstance(number, (int, float))
        or not math.isfinite(number)
        or number <= 0
    ):
        raise ConfigurationError(f"{label} must be a positive finite number, not {number!r}")


def check_ttl(ttl: object) -> None:
    """:raises ConfigurationError: a route's ``ttl`` is given (not ``None``) and is not a
    positive finite number."""
    if ttl is not None:
        check_positive(ttl, "ttl")
