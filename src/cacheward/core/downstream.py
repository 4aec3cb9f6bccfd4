"""What the guard tells caches in front of the app (invariant 5), for every framework."""

from __future__ import annotations

from enum import Enum


class Downstream(Enum):
    """What the guard tells caches in front of the app about authenticated responses.

    ``PRIVATE``: ``Cache-Control: private`` (browsers may keep their own copy).
    ``NO_STORE``: nothing may keep a copy. ``PER_KEY``: ``public`` with ``Vary`` on every
    credential header, for a CDN that keeps one copy per key.
    """

    PRIVATE = "private"
    NO_STORE = "no-store"
    PER_KEY = "per-key"


#: The ``Cache-Control`` of a stored response in ``private`` mode.
PRIVATE = "private, no-cache"


def downstream_headers(
    downstream: Downstream, ttl: float, credential_headers: tuple[str, ...], vary: tuple[str, ...]
) -> list[tuple[str, str]]:
    """What a stored response of a route tells caches in front (invariant 5)."""
    if downstream is Downstream.PER_KEY:
        names = credential_headers + vary
        out = [("Cache-Control", f"public, max-age={int(ttl)}")]
    else:
        names = vary
        out = [("Cache-Control", "no-store" if downstream is Downstream.NO_STORE else PRIVATE)]
    shown = [title(n) for n in names if not n.startswith(":")]
    if shown:
        out.append(("Vary", ", ".join(shown)))
    return out


def title(name: str) -> str:
    """A header name as responses spell it (``x-api-key`` -> ``X-Api-Key``)."""
    return "-".join(p.capitalize() for p in name.split("-"))
