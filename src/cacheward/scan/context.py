"""What every probe of one endpoint shares: principals, baselines, busters, options."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import urlsplit, urlunsplit

from .buster import PARAM, QUERY, Buster
from .credential import Credential
from .exchange import ProbeResponse
from .target import Endpoint

#: The query parameter that carries each probe's cache buster.
BUSTER_PARAM = PARAM


class BusterState(Enum):
    """Whether a fresh buster value was shown to reach a fresh cache entry."""

    WORKS = "works"
    BROKEN = "broken"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class Options:
    """Scan-wide switches probes look at."""

    aggressive: bool = False
    #: raw requests (two ``Host`` fields) can be sent: not through an in-process transport
    raw: bool = True


def token() -> str:
    """A fresh unguessable value for busters and canaries."""
    return "cw" + secrets.token_hex(5)


@dataclass
class ProbeContext:
    """One endpoint under test.

    ``baselines`` maps a principal name (``None`` for anonymous) to its response on a
    fresh buster of its own: what that principal sees when nothing is cached for it.
    """

    endpoint: Endpoint
    creds: list[Credential]
    options: Options = field(default_factory=Options)
    buster: BusterState = BusterState.UNVERIFIED
    baselines: dict[str | None, ProbeResponse] = field(default_factory=dict)
    cache_seen: bool = False
    #: where the working buster travels (the URL's value copied to a header or cookie)
    carrier: Buster = QUERY
    #: notes a probe leaves for the report (what it could not prove, and why)
    notes: list[str] = field(default_factory=list)
    #: bumped each time the scan waited out the endpoint's TTL (``--wait-ttl``): a
    #: response of a later epoch is independent of an earlier stored one
    epoch: int = 0
    #: the primary's last response where no buster busts (the read-only probe's)
    stored: ProbeResponse | None = None
    #: the primary's response on the buster trial's first buster: a second sample of
    #: its data (what differs from the baseline is noise)
    echo: ProbeResponse | None = None
    #: a cache behind the cache was seen (the front said miss, a store answered)
    behind: bool = False
    #: callers whose baseline was shown made for its request, and the evidence
    #: (:mod:`cacheward.scan.freshness`); a caller absent here has an unproven baseline
    fresh: dict[str | None, str] = field(default_factory=dict)

    @property
    def victims(self) -> list[Credential]:
        """Principals allowed to read the endpoint (not ``--low-key``)."""
        return [c for c in self.creds if not c.low]

    @property
    def primary(self) -> Credential:
        """The principal whose responses probes try to poison or leak."""
        return (self.victims or self.creds)[0]

    def baseline(self, cred: Credential | None) -> ProbeResponse:
        return self.baselines[cred.name if cred is not None else None]

    def url(self, *, suffix: str = "", params: str = "", value: str | None = None) -> str:
        """The endpoint URL with a fresh buster (or ``value``), ``suffix`` on the path
        and ``params`` (raw, already encoded) appended to the query."""
        parts = urlsplit(self.endpoint.url)
        query = "&".join(
            q for q in (parts.query, f"{BUSTER_PARAM}={value or token()}", params) if q
        )
        return urlunsplit((parts.scheme, parts.netloc, parts.path + suffix, query, ""))

    def unproven(self, name: str | None) -> bool:
        """Whether ``name``'s baseline may be a stored copy (nothing showed it fresh)."""
        return name in self.baselines and name not in self.fresh

    @property
    def authenticated(self) -> bool:
        """Whether the primary principal gets a 2xx (probes need something to protect)."""
        return self.baseline(self.primary).ok
