"""What a stored response may be: its status, and the headers that never travel with it."""

from __future__ import annotations

#: Statuses that may be stored: success and permanent redirects. Never 4xx (a cached
#: error is a denial of service, CPDoS) and never 5xx.
STORABLE_STATUS = frozenset({200, 203, 204, 300, 301, 308})
#: Hop-by-hop headers (RFC 9110 7.6.1): about one connection, never stored or replayed.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "transfer-encoding",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
    }
)
