"""The request, as the cache key sees it: plain values, no framework objects."""

from __future__ import annotations

from typing import NamedTuple, Protocol


class HeaderSource(Protocol):
    """Anything with a case-insensitive ``get``, such as Werkzeug's ``Headers``."""

    def get(self, key: str, /) -> str | None: ...


class RequestFacts(NamedTuple):
    """What a cache key may be built from.

    :param method: request method, upper case.
    :param scheme: ``http`` or ``https``, as the application sees it.
    :param host: host (and port) as the application sees it; never taken from
        ``X-Forwarded-Host`` unless the application trusts that header.
    :param path: the decoded path, as the router sees it (script root included).
    :param query_string: the raw WSGI ``QUERY_STRING``.
    :param headers: request headers, looked up only for the route's ``vary`` names.
    :param remote_addr: the client address, keyed only with ``vary=[":remote-addr"]``.
    """

    method: str
    scheme: str
    host: str
    path: str
    query_string: str
    headers: HeaderSource
    remote_addr: str = ""
