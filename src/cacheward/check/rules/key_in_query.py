"""``key-in-query``: an API key is accepted from the query string."""

from __future__ import annotations

from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from ..effect import EffectKind
from ..model import AppModel
from ..registry import Issue, rule


@rule(
    "key-in-query",
    Severity.MEDIUM,
    Confidence.HIGH,
    cwe=598,
    title="API key accepted from the query string",
    fix="Accept the key only in the X-API-Key or Authorization header; refuse it in the URL"
    " (cacheward does by default, CACHEWARD_ALLOW_QUERY_KEY).",
)
def key_in_query(model: AppModel) -> Iterator[Issue]:
    """``request.args.get("api_key")`` (or ``token``, ``key``...) reads a credential from the URL.

    URLs are logged by every proxy and server, kept in browser history, sent in
    ``Referer``, and are the cache key of shared caches: the key leaks, and a cache that
    strips or ignores the parameter serves one key's response to another.

    Vulnerable::

        api_key = request.args.get("api_key") or request.headers.get("X-API-Key")

    Fixed::

        api_key = request.headers.get("X-API-Key")
    """
    for source, fn in model.functions():
        for e in model.analyzer.effects(source.path, fn):
            if e.kind is EffectKind.QUERY_CREDENTIAL and e.direct:
                yield Issue(
                    source.path,
                    e.site,
                    {"parameter": e.detail},
                    confidence=Confidence.MEDIUM if e.detail.lower() == "key" else None,
                )
