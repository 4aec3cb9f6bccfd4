"""``key-in-query``: an API key is accepted from the query string."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from ..effect import Effect, EffectKind
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

    Names that say "API key" (``api_key``, ``access_token``...) are reported wherever they
    are read. The ambiguous ``key`` and ``token`` only where the function (or a helper it
    calls) denies access with 401/403: elsewhere they filter rows or name a setting. A
    signed one-time link verified with a lifetime (itsdangerous
    ``loads(token, max_age=...)``, ``unsign(..., max_age=...)`` or a helper given the
    token and a ``max_age``) is not a standing credential and is not reported.

    In FastAPI code: a ``Query()`` parameter, or a bare scalar endpoint parameter not in
    the path (FastAPI reads it from the query string; the path includes the prefixes of
    its ``APIRouter`` and ``include_router``), with such a name, and ``APIKeyQuery``
    security schemes, in endpoints, in the dependencies they use, and in the
    ``dependencies=[...]`` of their route, router, ``include_router`` call or app.

    Vulnerable::

        api_key = request.args.get("api_key") or request.headers.get("X-API-Key")

    Fixed::

        api_key = request.headers.get("X-API-Key")
    """
    for view in model.views:  # FastAPI parameters and dependencies: Query(), APIKeyQuery
        denies = any(e.kind is EffectKind.AUTH_CHECK for e in (*view.effects, *view.inputs))
        gated = any(e.kind is EffectKind.AUTH_CHECK for e in view.gates)
        for listed, checked in ((view.inputs, denies), (view.gates, gated)):
            for e in listed:
                if e.kind is EffectKind.QUERY_CREDENTIAL:
                    yield from _reported(e, e.path, e.origin, checked)
    for source, fn in model.functions("request", "parse_args"):
        effects = model.analyzer.effects(source.path, fn)
        reads = [e for e in effects if e.kind is EffectKind.QUERY_CREDENTIAL and e.direct]
        if not reads or _verifies_signed_link(fn):
            continue
        denies = any(e.kind is EffectKind.AUTH_CHECK for e in effects)
        for e in reads:
            yield from _reported(e, source.path, e.site, denies)


def _reported(read: Effect, path: str, site: ast.AST, denies: bool) -> Iterator[Issue]:
    """The finding for one query credential read: an ambiguous name (``key``, ``token``)
    only where access is also denied, and then at medium confidence."""
    ambiguous = read.detail.lower() in _AMBIGUOUS
    if ambiguous and not denies:
        return
    yield Issue(
        path,
        site,
        {"parameter": read.detail},
        confidence=Confidence.MEDIUM if ambiguous else None,
    )


#: Parameter names that are credentials only when the function also denies access.
_AMBIGUOUS = frozenset({"key", "token"})


def _verifies_signed_link(fn: ast.AST) -> bool:
    """``serializer.loads(token, max_age=...)``, ``unserialize(token, max_age=3600)``: a
    signed, expiring one-time link (a call given the value and a ``max_age``)."""
    for node in ast.walk(fn):
        if (
            isinstance(node, ast.Call)
            and node.args
            and any(kw.arg == "max_age" for kw in node.keywords)
        ):
            return True
    return False
