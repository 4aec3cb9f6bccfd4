"""``pickle-shared-cache``: Flask-Caching pickles entries into a shared store."""

from __future__ import annotations

from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from ..model import AppModel
from ..registry import Issue, rule


@rule(
    "pickle-shared-cache",
    Severity.MEDIUM,
    Confidence.HIGH,
    cwe=502,
    title="Pickle-serialized cache on a shared backend",
    fix="Store plain data with an integrity tag (cacheward's backends: JSON entries with an"
    " HMAC), or keep the store private to this app with authentication and TLS.",
)
def pickle_shared_cache(model: AppModel) -> Iterator[Issue]:
    """Flask-Caching's Redis and Memcached backends store entries with ``pickle``.

    Anyone who can write to that store (another service sharing the Redis, a leaked
    password, an SSRF to port 6379) can plant an entry that runs code when the app reads
    it, or forge any cached response. Found in config dicts, ``app.config[...] =``,
    ``Cache(config={...})``, keyword arguments and config classes (annotated ones too),
    and in hand-rolled caches: ``pickle.loads`` in a file that talks to Redis. Settings in
    test code (``tests/``, ``test_*.py``, ``conftest.py``) and in development or test
    config classes (``DevelopmentConfig``, ``TestingConfig``) are not reported.

    Vulnerable::

        cache = Cache(config={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": url})

    Fixed::

        app.config["CACHEWARD_BACKEND"] = "redis://cache:6379/0"
        ward = Cacheward(app, keys=store)
    """
    for site in model.cache_types:
        yield Issue(site.path, site.node, {"CACHE_TYPE": site.detail})
