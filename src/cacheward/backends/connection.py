"""Redis clients from ``redis://``, ``rediss://`` and ``redis+cluster://`` URLs.

Every client cacheward makes has short socket timeouts and no retry loop of its own, so a
dead or slow server costs a request at most a few hundred milliseconds; the circuit
breaker (:mod:`cacheward.backends.breaker`) then stops asking it at all for a while.

cacheward's own options may be given as keyword arguments or in the URL's query string
(the query string wins, like ``memory://?limit=``); every other query parameter is
passed to redis-py (``?ssl_cert_reqs=none``...).

=====================  =======  ====================================================
option                 default  meaning
=====================  =======  ====================================================
``socket_timeout``     0.25     seconds to wait for one reply
``connect_timeout``    0.25     seconds to wait for a connection
``prefix``             ``cw``   first part of every key cacheward writes
``failure_threshold``  5        consecutive failures that open the circuit
``reset_after``        5.0      seconds the circuit stays open before a trial call
``generation_ttl``     1.0      (Cluster) seconds a global or tag generation is cached
``memo_bytes``         4 MiB    verified entries remembered by their exact bytes (0: off)
=====================  =======  ====================================================
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis import Redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from ..errors import ConfigurationError

#: Either kind of client; both speak the commands cacheward uses.
Client = Redis | RedisCluster

_PREFIX_RE = re.compile(r"\A[A-Za-z0-9_.-]{1,32}\Z")


@dataclass(frozen=True)
class RedisOptions:
    """cacheward's settings for one Redis connection (see the module table)."""

    socket_timeout: float = 0.25
    connect_timeout: float = 0.25
    prefix: str = "cw"
    failure_threshold: int = 5
    reset_after: float = 5.0
    generation_ttl: float = 1.0
    memo_bytes: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        if not _PREFIX_RE.match(self.prefix):
            raise ConfigurationError(
                f"Redis prefix {self.prefix!r} must be 1-32 of A-Z a-z 0-9 _ . -"
            )
        for name in ("socket_timeout", "connect_timeout", "reset_after"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"Redis option {name} must be positive")
        if self.failure_threshold < 1 or self.generation_ttl < 0 or self.memo_bytes < 0:
            raise ConfigurationError(
                "Redis option failure_threshold must be >= 1, generation_ttl and memo_bytes >= 0"
            )

    @classmethod
    def parse(cls, given: Mapping[str, Any]) -> RedisOptions:
        """Options from keyword arguments or query parameters (strings are converted)."""
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in given:
                value = given[f.name]
                kind = type(getattr(cls, f.name))
                try:
                    kwargs[f.name] = kind(value)
                except (TypeError, ValueError):
                    raise ConfigurationError(
                        f"Redis option {f.name}={value!r} is not a {kind.__name__}"
                    ) from None
        return cls(**kwargs)


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("redis+cluster", "rediss+cluster")


def split_url(url: str, options: Mapping[str, Any]) -> tuple[str, RedisOptions, dict[str, str]]:
    """The URL without cacheward's query parameters, cacheward's options, and the rest.

    ``redis+cluster://`` becomes ``redis://`` (and ``rediss+cluster://`` ``rediss://``),
    which is what redis-py's cluster client parses.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss", "redis+cluster", "rediss+cluster"):
        raise ConfigurationError(f"not a Redis URL scheme: {scheme!r}")
    own = {f.name for f in fields(RedisOptions)}
    query = parse_qsl(parts.query, keep_blank_values=True)
    merged = dict(options)
    rest: dict[str, str] = {}
    for name, value in query:
        if name in own:
            merged[name] = value
        else:
            rest[name] = value
    plain = urlunsplit((scheme.replace("+cluster", ""), parts.netloc, parts.path, "", ""))
    return plain, RedisOptions.parse(merged), rest


def describe(url: str) -> str:
    """The URL as a log line may show it: no user name, no password, no query."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    kind = "Redis Cluster" if is_cluster_url(url) else "Redis"
    return f"{kind} at {host}{port}{parts.path}"


class ConnectorBase:
    """What the sync :class:`Connector` and the asyncio connector share: the URL and
    options, parsed once, and how a client is built from them.

    :raises ConfigurationError: a malformed URL or option (nothing is contacted here).
    """

    def __init__(self, url: str, **options: Any) -> None:
        self.plain, self.options, self._rest = split_url(url, options)
        self.cluster = is_cluster_url(url)
        self.name = describe(url)

    def _build(self, standalone: Any, cluster: Any, retry: Any) -> Any:
        """A client of class ``standalone`` or ``cluster`` (redis-py's sync or asyncio
        ones, with their ``retry`` class): short timeouts, no retry loop."""
        url = self.plain + ("?" + urlencode(self._rest) if self._rest else "")
        kwargs: dict[str, Any] = {
            "socket_timeout": self.options.socket_timeout,
            "socket_connect_timeout": self.options.connect_timeout,
            "decode_responses": False,
        }
        try:
            if self.cluster:
                # One retry lets redis-py follow a MOVED after a failover; no backoff sleeps.
                return cluster.from_url(url, retry=retry(NoBackoff(), 1), **kwargs)
            return standalone.from_url(url, retry=retry(NoBackoff(), 0), **kwargs)
        except (ValueError, TypeError) as e:
            raise ConfigurationError(f"bad Redis URL or option: {e}") from None


class Connector(ConnectorBase):
    """Makes the client for one URL on first use, so that start-up never waits for (or
    fails on) a server that is down: Redis Cluster clients contact the cluster as soon as
    they are built.

    :raises ConfigurationError: a malformed URL or option (nothing is contacted here).
    """

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self._client: Client | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_client(cls, client: Client, **options: Any) -> Connector:
        """A connector around a client the application made itself."""
        cluster = isinstance(client, RedisCluster)
        self = cls("redis+cluster://" if cluster else "redis://", **options)
        self.name = "Redis Cluster" if cluster else "Redis"
        self._client = client
        return self

    def client(self) -> Client:
        """The client, made on the first call (which may raise a redis-py error)."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make()
                client = self._client
        return client

    def _make(self) -> Client:
        client: Client = self._build(Redis, RedisCluster, Retry)
        return client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            close_client(client)


def close_client(client: Client) -> None:
    """Close ``client`` and every socket it opened: its pool (which ``Redis.close`` keeps
    when the pool was made by ``from_url``... or passed in), and the connections a Cluster
    client made to its startup nodes while discovering the topology, which
    ``RedisCluster.close`` leaves open (redis-py 8.1)."""
    client.close()
    if isinstance(client, Redis):
        client.connection_pool.disconnect()
    if isinstance(client, RedisCluster):
        manager = getattr(client, "nodes_manager", None)
        nodes = [
            *getattr(manager, "startup_nodes", {}).values(),
            *getattr(manager, "nodes_cache", {}).values(),
        ]
        for node in nodes:
            if node.redis_connection is not None:
                node.redis_connection.close()
                node.redis_connection.connection_pool.disconnect()
