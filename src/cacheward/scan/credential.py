"""Scan credentials: named API keys, where they travel, and how they are redacted.

Keys come from ``--key NAME=KEY`` (repeatable) or ``CACHEWARD_SCAN_KEYS="a=KEY,b=KEY"``.
A key is never printed: :func:`mask` shows at most its last two characters, and
:class:`Redactor` scrubs every raw (and URL-encoded) key out of any text before it is
written anywhere.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import Enum
from urllib.parse import quote

from ..errors import CredentialError as CredentialError
from ..keys.format import PREFIX

#: The environment variable that may carry the keys, out of shell history.
ENV_KEYS = "CACHEWARD_SCAN_KEYS"


class Placement(Enum):
    """Where a request carries its API key."""

    HEADER = "header"
    BEARER = "bearer"
    QUERY = "query"
    #: in a cookie of the one ``Cookie`` header, beside any other cookie a request sends
    COOKIE = "cookie"
    #: nowhere: the anonymous principal of a scan given no keys
    NONE = "none"


def mask(key: str) -> str:
    """A key as outputs may show it: its prefix if it is a cacheward key, at most 2 chars.

    >>> mask("cw_abcdefghijkl_0123456789abcdef0123456789abcdefXYZ93f")
    'cw_…3f'
    """
    head = PREFIX if key.startswith(PREFIX) else ""
    tail = key[-2:] if len(key) >= 12 else ""
    return f"{head}…{tail}"


@dataclass(frozen=True)
class Credential:
    """One principal's key. ``repr`` and ``str`` are redacted.

    :param name: the label shown in outputs (``alice``).
    :param key: the secret; never printed.
    :param placement: where requests carry it.
    :param header: header name for :attr:`Placement.HEADER`.
    :param query: parameter name for :attr:`Placement.QUERY`.
    :param low: a ``--low-key`` principal, expected to be denied.
    :param cookie: cookie name for :attr:`Placement.COOKIE` (a session cookie).

    .. versionadded:: 0.1
    """

    name: str
    key: str = field(repr=False)
    placement: Placement = Placement.HEADER
    header: str = "X-API-Key"
    query: str = "api_key"
    low: bool = False
    cookie: str = "session"

    def __str__(self) -> str:
        return self.name if self.keyless else f"{self.name}={mask(self.key)}"

    @property
    def keyless(self) -> bool:
        """The anonymous principal of a scan with no keys (sends no credential)."""
        return self.placement is Placement.NONE

    def __repr__(self) -> str:
        return f"Credential({self})"

    @property
    def quoted_key(self) -> str:
        return quote(self.key, safe="")

    def name_for(self, placement: Placement) -> str:
        """The header, parameter or cookie name used for ``placement``."""
        if placement is Placement.QUERY:
            return self.query
        if placement is Placement.BEARER:
            return "Authorization"
        if placement is Placement.COOKIE:
            return f"Cookie {self.cookie}"
        return self.header

    @property
    def credential_header(self) -> str | None:
        """The request header a cache must vary on, if the key travels in one."""
        if self.placement in (Placement.QUERY, Placement.NONE):
            return None
        if self.placement is Placement.COOKIE:
            return "Cookie"
        return self.name_for(self.placement)

    def with_key(self, name: str, key: str, *, low: bool = False) -> Credential:
        """Another principal whose key travels the same way as this one's."""
        return replace(self, name=name, key=key, low=low)


#: The principal of a scan given no keys: sends no credential at all.
ANONYMOUS = Credential("anonymous", "", Placement.NONE)


def parse_pairs(items: Iterable[str]) -> list[tuple[str, str]]:
    """``NAME=KEY`` strings to pairs; errors name the entry's position, never its key."""
    out: list[tuple[str, str]] = []
    for i, item in enumerate(items, 1):
        name, sep, key = item.strip().partition("=")
        if not sep or not name.strip() or not key.strip():
            raise CredentialError(f"key #{i} is not NAME=KEY")
        out.append((name.strip(), key.strip()))
    names = [n for n, _ in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise CredentialError(f"duplicate key names: {', '.join(sorted(dup))}")
    return out


def from_env(environ: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Pairs from :data:`ENV_KEYS` (comma separated), or none."""
    raw = (os.environ if environ is None else environ).get(ENV_KEYS, "")
    return parse_pairs(p for p in raw.split(",") if p.strip())


def build(
    pairs: Sequence[tuple[str, str]],
    *,
    placement: Placement = Placement.HEADER,
    header: str = "X-API-Key",
    query: str = "api_key",
    low: Iterable[str] = (),
    cookie: str = "session",
) -> list[Credential]:
    """Credentials in the given order.

    :param pairs: ``(name, key)`` pairs, the first being the primary principal.
    :param placement: where every key travels.
    :param header: the key header for :attr:`Placement.HEADER`.
    :param query: the key parameter for :attr:`Placement.QUERY`.
    :param low: names of principals that must be denied (``--low-key``).
    :param cookie: the cookie name for :attr:`Placement.COOKIE`.
    :raises CredentialError: a ``low`` name that names no key.
    """
    low_names = set(low)
    unknown = low_names - {n for n, _ in pairs}
    if unknown:
        raise CredentialError(f"--low-key names no --key: {', '.join(sorted(unknown))}")
    return [
        Credential(n, k, placement, header, query, low=n in low_names, cookie=cookie)
        for n, k in pairs
    ]


class Redactor:
    """Replaces every raw key (plain, URL-encoded or JSON-escaped) in a text by ``name=mask``.

    :param creds: the credentials whose keys must never be shown.

    .. versionadded:: 0.1
    """

    def __init__(self, creds: Iterable[Credential]) -> None:
        subs: dict[str, str] = {}
        for c in creds:
            for form in {c.key, c.quoted_key, quote(c.key), json.dumps(c.key)[1:-1]}:
                subs[form] = str(c)
        self._subs = sorted(subs.items(), key=lambda kv: -len(kv[0]))

    def __call__(self, text: str) -> str:
        for raw, shown in self._subs:
            if raw:
                text = text.replace(raw, shown)
        return text


class RedactingFilter(logging.Filter):
    """A logging filter that runs every record's final message through a :class:`Redactor`."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redact(record.getMessage())
        record.args = None
        return True


#: Loggers of the HTTP stack that may print a URL (and so a key sent in a query string).
HTTP_LOGGERS = (
    "cacheward.scan",
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)


@contextmanager
def redacted_logs(redact: Redactor) -> Iterator[None]:
    """While active, records of :data:`HTTP_LOGGERS` are redacted at the source."""
    flt = RedactingFilter(redact)
    loggers = [logging.getLogger(name) for name in HTTP_LOGGERS]
    for lg in loggers:
        lg.addFilter(flt)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(flt)
