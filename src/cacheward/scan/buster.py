"""Where a probe's cache buster travels when the query string does not bust.

Many caches key on the path alone (Flask-Caching's default ``@cache.cached``, CDN rules
that drop the query string). Like Param Miner and Hackmanit's WCVS, the scanner then
tries further busters the cache might key on: a cookie (``cwcb=<random>``) and every
header the response itself names in ``Vary`` (a random ``Origin``, ``Accept-Language``
...). Each candidate must pass the same three-request check as the query buster before
any active probe uses it; the query parameter stays in the URL too, harmlessly.

Path variants (a trailing ``/``, a changed case) are not used: each gives one other
entry, not a fresh one per probe, so it cannot keep one probe's poison from the next.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass, replace
from enum import Enum
from typing import TypeVar
from urllib.parse import parse_qsl, urlsplit

from .exchange import ProbeRequest, ProbeResponse

T = TypeVar("T")

#: The name of the query parameter and of the cookie that carry the buster.
PARAM = "cwcb"
#: ``Vary`` headers never used as busters: credentials, and those caches normalize.
#: ``Accept`` and ``Content-Type`` are left out too: a random value there is an error page.
_NEVER = frozenset(
    {"cookie", "authorization", "accept-encoding", "accept", "content-type", "*", "x-api-key"}
)


class Carrier(Enum):
    QUERY = "query"
    HEADER = "header"
    COOKIE = "cookie"


@dataclass(frozen=True)
class Buster:
    """A buster carrier: the query (default), a named header, or a cookie."""

    carrier: Carrier = Carrier.QUERY
    name: str = PARAM

    def __str__(self) -> str:
        if self.carrier is Carrier.QUERY:
            return f"query ?{self.name}="
        return f"{self.carrier.value} {self.name}"

    def value_for(self, token: str) -> str:
        if self.carrier is Carrier.HEADER and self.name.lower() == "origin":
            return f"https://{token}.invalid"
        return token

    def apply(self, req: ProbeRequest) -> ProbeRequest:
        """``req`` with its URL's buster value copied into this carrier."""
        if self.carrier is Carrier.QUERY:
            return req
        token = token_of(req.url)
        if not token:
            return req
        headers = list(req.headers)
        if self.carrier is Carrier.HEADER:
            # A probe's own value for this header would share an entry with whoever
            # sends that value: the buster wins, the probe loses that one input.
            headers = [(k, v) for k, v in headers if k.lower() != self.name.lower()]
            headers.append((self.name, self.value_for(token)))
        else:
            cookie = f"{self.name}={token}"
            old = [v for k, v in headers if k.lower() == "cookie"]
            headers = [(k, v) for k, v in headers if k.lower() != "cookie"]
            headers.append(("Cookie", "; ".join([*old, cookie])))
        return replace(req, headers=tuple(headers))


QUERY = Buster()


def token_of(url: str) -> str:
    """The buster value ``url`` carries (``""``: none)."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True)).get(PARAM, "")


def candidates(vary: Iterable[str], credential_header: str | None) -> list[Buster]:
    """Alternatives to try, in order: ``Vary`` headers (at most three), then a cookie."""
    skip = _NEVER | {(credential_header or "").lower()}
    headers = [h for h in dict.fromkeys(v.strip().lower() for v in vary) if h and h not in skip]
    return [*(Buster(Carrier.HEADER, h.title()) for h in headers[:3]), Buster(Carrier.COOKIE)]


def carried(
    probe: Generator[ProbeRequest, ProbeResponse, T], buster: Buster
) -> Generator[ProbeRequest, ProbeResponse, T]:
    """``probe`` with every request it yields carrying ``buster``."""
    try:
        req = next(probe)
        while True:
            resp = yield buster.apply(req)
            req = probe.send(resp)
    except StopIteration as stop:
        value: T = stop.value
        return value
