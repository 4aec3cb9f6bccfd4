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
    :param path: the decoded path, as the router sees it (``PATH_INFO``).
    :param query_string: the raw WSGI ``QUERY_STRING``.
    :param headers: request headers, looked up only for the route's ``vary`` names.
    :param remote_addr: the client address, keyed only with ``vary=[":remote-addr"]``.
    :param prefix: the script root (``SCRIPT_NAME``), keyed apart from the path, so that
        two splits of one URL never share an entry.
    :param route: which application and endpoint answers (apps sharing a backend never
        share entries).
    :param principal: what of the principal the key binds beyond the scope token
        (the tenant, and the grants or key id when the route varies on them).
    """

    method: str
    scheme: str
    host: str
    path: str
    query_string: str
    headers: HeaderSource
    remote_addr: str = ""
    prefix: str = ""
    route: str = ""
    principal: tuple[tuple[str, str], ...] = ()
