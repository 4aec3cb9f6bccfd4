"""A stored response: plain data, nothing executable."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """A response as a backend stores it.

    :param generation: the purge generations the entry was stored under, in the order
        ``(global, scope, *tags)``; a backend serves it only while they are current.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    created: float
    ttl: float
    etag: str
    scope: str
    tags: tuple[str, ...] = ()
    generation: tuple[int, ...] = ()

    def expires(self) -> float:
        """Epoch second after which the entry is stale."""
        return self.created + self.ttl

    def size(self) -> int:
        """Approximate bytes the entry holds, for memory limits."""
        return (
            len(self.body)
            + sum(len(k) + len(v) for k, v in self.headers)
            + len(self.etag)
            + len(self.scope)
            + sum(len(t) for t in self.tags)
            + 200
        )


def etag_matches(header: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` ``header`` names ``etag`` (weak comparison, RFC 9110
    13.1.2; ``*`` matches any)."""
    if header.strip() == "*":
        return True
    weak = etag[2:] if etag.startswith("W/") else etag
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == weak:
            return True
    return False
