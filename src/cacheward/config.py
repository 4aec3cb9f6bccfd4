"""The guard's setting names and defaults (Flask and ASGI; framework-free)."""

from __future__ import annotations

from .backends.memory import DEFAULT_LIMIT
from .core.downstream import Downstream as Downstream

#: Required. The secret (or list of secrets, oldest first) that keys every hash and tag.
SECRET = "CACHEWARD_SECRET"  # noqa: S105 - the setting's name
#: ``memory://`` (default), ``redis://host:port/db`` or ``redis+cluster://host:port``.
BACKEND = "CACHEWARD_BACKEND"
#: Byte limit of the memory backend.
MEMORY_LIMIT = "CACHEWARD_MEMORY_LIMIT"
#: Accept an API key in the query string (refused with 400 by default).
ALLOW_QUERY_KEY = "CACHEWARD_ALLOW_QUERY_KEY"
#: Header that carries the API key; ``Authorization: Bearer`` is always accepted too.
KEY_HEADER = "CACHEWARD_KEY_HEADER"
#: Raise ``UnkeyedInputError`` instead of only refusing to store (on in debug and testing).
STRICT = "CACHEWARD_STRICT"
#: What downstream caches are told: ``private`` (default), ``no-store`` or ``per-key``.
DOWNSTREAM = "CACHEWARD_DOWNSTREAM"
#: Default time to live of ``@ward.cached`` entries, in seconds.
DEFAULT_TTL = "CACHEWARD_DEFAULT_TTL"
#: Prefix of every cache key, so that several apps can share one store.
KEY_PREFIX = "CACHEWARD_KEY_PREFIX"
#: The canonical host for keys; by default the Host the request arrived with.
HOST = "CACHEWARD_HOST"
#: Largest response body stored, in bytes.
MAX_ENTRY_BYTES = "CACHEWARD_MAX_ENTRY_BYTES"
#: Seconds a concurrent miss waits for the one computing the same key.
SINGLE_FLIGHT_TIMEOUT = "CACHEWARD_SINGLE_FLIGHT_TIMEOUT"
#: Turn response caching off (authentication still runs).
ENABLED = "CACHEWARD_ENABLED"
#: Refuse a repeated query parameter on cached routes with 400.
REJECT_DUPLICATE_PARAMS = "CACHEWARD_REJECT_DUPLICATE_PARAMS"
#: Other headers that carry a credential a ``principal=`` library reads (``["X-Token"]``):
#: reads of them count as reads of the credential, and per-key mode varies on them.
CREDENTIAL_HEADERS = "CACHEWARD_CREDENTIAL_HEADERS"

DEFAULTS: dict[str, object] = {
    BACKEND: "memory://",
    MEMORY_LIMIT: DEFAULT_LIMIT,
    ALLOW_QUERY_KEY: False,
    KEY_HEADER: "X-API-Key",
    STRICT: None,
    DOWNSTREAM: "private",
    DEFAULT_TTL: 60,
    KEY_PREFIX: "cw",
    HOST: None,
    MAX_ENTRY_BYTES: 1024 * 1024,
    SINGLE_FLIGHT_TIMEOUT: 5.0,
    ENABLED: True,
    REJECT_DUPLICATE_PARAMS: True,
    CREDENTIAL_HEADERS: (),
}

#: Longest credential header accepted; a longer one is refused without parsing.
MAX_CREDENTIAL_LENGTH = 256
