"""The API key format: ``cw_<id>_<secret><checksum>``.

``id`` is 12 lower-case base32 characters and names the key in logs, lists and audits.
``secret`` is 32 base62 characters (190 bits) drawn from :mod:`secrets`. ``checksum`` is
6 base62 characters of CRC32 over everything before it, so that a typo or a truncated key
is refused before any store lookup, and secret scanners can recognise a real key.
"""

from __future__ import annotations

import re
import secrets
import string
import zlib
from dataclasses import dataclass

PREFIX = "cw_"
ID_LENGTH = 12
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_B62 = string.digits + string.ascii_letters
_KEY_RE = re.compile(
    rf"\Acw_([a-z2-7]{{{ID_LENGTH}}})_([0-9A-Za-z]{{{SECRET_LENGTH}}})([0-9A-Za-z]{{{CHECKSUM_LENGTH}}})\Z"
)
#: Longest a key can be; longer input is refused without parsing.
KEY_LENGTH = len(PREFIX) + ID_LENGTH + 1 + SECRET_LENGTH + CHECKSUM_LENGTH


@dataclass(frozen=True)
class ParsedKey:
    """A well-formed key split into its id and secret."""

    id: str
    secret: str


_B62_PAIRS = [a + b for a in _B62 for b in _B62]  # 3,844 two-digit base62 strings


def _checksum(body: str) -> str:
    """CRC32 in 6 base62 digits (62**6 > 2**32), two digits at a time: verify is hot."""
    high, low = divmod(zlib.crc32(body.encode("ascii")), 3844)
    high, mid = divmod(high, 3844)
    return _B62_PAIRS[high] + _B62_PAIRS[mid] + _B62_PAIRS[low]


def new_key_id() -> str:
    """A fresh random key id."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))


def generate(key_id: str | None = None) -> tuple[str, ParsedKey]:
    """A new key: its plaintext (to show once) and its parts."""
    key_id = key_id or new_key_id()
    secret = "".join(secrets.choice(_B62) for _ in range(SECRET_LENGTH))
    body = f"{PREFIX}{key_id}_{secret}"
    return body + _checksum(body), ParsedKey(key_id, secret)


def parse(plaintext: str) -> ParsedKey | None:
    """Split a key into id and secret, or ``None`` if it is malformed or mistyped."""
    if len(plaintext) != KEY_LENGTH:
        return None
    m = _KEY_RE.match(plaintext)
    if m is None:
        return None
    body = plaintext[:-CHECKSUM_LENGTH]
    if _checksum(body) != m.group(3):
        return None
    return ParsedKey(m.group(1), m.group(2))


def looks_like_key(value: str) -> bool:
    """Whether ``value`` is shaped like a cacheward key (checksum not checked)."""
    return value.startswith(PREFIX) and len(value) == KEY_LENGTH


def redact(plaintext: str) -> str:
    """What a log or report may show of a key: its id if well-formed, else nothing."""
    parsed = parse(plaintext)
    if parsed is not None:
        return f"cw_{parsed.id}_…"
    return "cw_…" if plaintext.startswith(PREFIX) else "…"
