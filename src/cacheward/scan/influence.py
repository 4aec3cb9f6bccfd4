"""Parameters that commonly change an API's response, for probes that smuggle one."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

INFLUENTIAL = (
    "lang",
    "locale",
    "format",
    "callback",
    "q",
    "search",
    "fields",
    "view",
    "theme",
    "currency",
    "country",
    "redirect",
    "next",
    "name",
)


def influential(url: str) -> list[str]:
    """The wordlist plus the endpoint's own query parameter names."""
    own = [k for k, _ in parse_qsl(urlsplit(url).query)]
    return list(dict.fromkeys([*own, *INFLUENTIAL]))
