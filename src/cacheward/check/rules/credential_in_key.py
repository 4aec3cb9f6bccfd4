"""``credential-in-key``: a raw credential is part of a cache key."""

from __future__ import annotations

from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from ..effect import EffectKind
from ..model import AppModel
from ..registry import Issue, rule


@rule(
    "credential-in-key",
    Severity.MEDIUM,
    Confidence.HIGH,
    cwe=312,
    title="Raw credential used in a cache key",
    fix="Key on the principal, through a keyed hash (HMAC-SHA256 with the app's secret) of"
    " its id, never on the API key or token itself; cacheward's scope='principal' does this.",
)
def credential_in_key(model: AppModel) -> Iterator[Issue]:
    """A cache key built from the raw ``X-API-Key``, ``Authorization`` or a token variable.

    Keys are stored in the clear in the cache backend, show up in its monitoring, in
    ``KEYS *`` and in logs: a key that embeds the credential hands every API key to anyone
    who can read the store. It also ties entries to a key instead of a principal, so a
    rotated key loses its cache and a revoked one keeps it.

    Reported once per function, at the first key built from the credential. A dict or
    other container inside the process (``_keys = {}``) is not a store others can read,
    and is not reported.

    Vulnerable::

        @cache.cached(key_prefix=lambda: f"v:{request.headers['X-API-Key']}:{request.path}")
        def view(): ...

        api_key = request.headers.get("X-API-Key")
        cache.set(f"user:{api_key}", data)

    Fixed::

        def per_principal() -> str:
            return f"v:{scope_of(current_user.id)}:{request.path}"  # HMAC of the id

        @cache.cached(make_cache_key=per_principal)
        def view(): ...
    """
    for source, fn in model.functions("cache", "key"):
        for e in model.analyzer.effects(source.path, fn):
            if e.kind is EffectKind.CREDENTIAL_KEY and e.direct:
                yield Issue(source.path, e.site, {"function": fn.name, "key": e.detail})
                break  # one finding per function: the fix is one change of key
    for path, key_fn in model.key_functions:
        for e in model.analyzer.effects(path, key_fn, key_function=True):
            if e.kind is EffectKind.CREDENTIAL_KEY and e.direct:
                name = getattr(key_fn, "name", "<lambda>")
                yield Issue(path, e.site, {"key_function": name})
