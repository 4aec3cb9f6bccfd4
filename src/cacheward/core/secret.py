"""Keyed hashes and tags derived from the application secret.

One derived key per purpose (scope hashing, entry tags, key ids...), so that a value
computed for one purpose is never valid for another (itsdangerous' salts). Secrets form a
list, oldest to newest: the newest signs, every one verifies (rotation).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from enum import Enum

from ..errors import ConfigurationError

MIN_SECRET_BYTES = 16


class Purpose(Enum):
    """What a derived key is for; each purpose gets its own key."""

    SCOPE = "scope"
    ENTRY = "entry"
    VALUE = "value"  # values of the data cache and of memoize


def constant_time_equal(a: bytes | str, b: bytes | str) -> bool:
    """The one place cacheward compares secrets."""
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return hmac.compare_digest(a, b)


class Secrets:
    """The application's secrets, oldest first, and the keys derived from them."""

    __slots__ = ("_derived",)

    def __init__(self, secrets: str | bytes | Sequence[str | bytes]) -> None:
        if isinstance(secrets, (str, bytes)):
            secrets = [secrets]
        raw = [s.encode() if isinstance(s, str) else bytes(s) for s in secrets]
        if not raw:
            raise ConfigurationError("CACHEWARD_SECRET is required and must not be empty.")
        for s in raw:
            if len(s) < MIN_SECRET_BYTES:
                raise ConfigurationError(
                    f"CACHEWARD_SECRET must be at least {MIN_SECRET_BYTES} bytes long;"
                    " generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
                )
        self._derived: dict[Purpose, tuple[bytes, ...]] = {
            p: tuple(self._derive(s, p) for s in reversed(raw)) for p in Purpose
        }

    @staticmethod
    def _derive(secret: bytes, purpose: Purpose) -> bytes:
        return hmac.new(secret, b"cacheward.v1." + purpose.value.encode(), hashlib.sha256).digest()

    def keyed_hash(self, purpose: Purpose, value: str | bytes, size: int = 16) -> str:
        """A hex HMAC-SHA256 of ``value`` under the newest secret, ``size`` bytes long."""
        if isinstance(value, str):
            value = value.encode()
        key = self._derived[purpose][0]
        return hmac.new(key, value, hashlib.sha256).hexdigest()[: size * 2]

    def sign(self, purpose: Purpose, data: bytes) -> bytes:
        """A 32-byte tag over ``data`` with the newest secret."""
        # hmac.digest with a digest name is OpenSSL's one-shot HMAC: several times
        # faster than hmac.new(..., hashlib.sha256) on the cache hit path, same bytes.
        return hmac.digest(self._derived[purpose][0], data, "sha256")

    def verify(self, purpose: Purpose, data: bytes, tag: bytes) -> bool:
        """True when ``tag`` was made over ``data`` by any of the secrets."""
        ok = False
        for key in self._derived[purpose]:
            ok |= constant_time_equal(hmac.digest(key, data, "sha256"), tag)
        return ok
