"""``public-authenticated``: an authenticated response is marked public for shared caches."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from .. import names as n
from ..effect import Effect, EffectKind
from ..model import AppModel, CacheFlavor
from ..registry import Issue, rule


@rule(
    "public-authenticated",
    Severity.HIGH,
    Confidence.HIGH,
    cwe=524,
    title="Authenticated view sends Cache-Control: public or s-maxage",
    fix="Send Cache-Control: private (or no-store) on authenticated responses; public only"
    " with Vary naming every credential header, in a per-key CDN setup.",
)
def public_authenticated(model: AppModel) -> Iterator[Issue]:
    """``Cache-Control: public`` (or ``s-maxage``) on a response to an authenticated caller.

    A positive ``max-age`` without ``private`` counts too: shared caches may store it.
    fastapi-cache2's ``@cache`` sends ``Cache-Control: max-age=<expire>`` (no ``private``)
    on every response it serves, fresh or cached, after the endpoint has set its own
    headers: on an endpoint behind an auth dependency that is reported at the decorator
    (medium confidence: a middleware may rewrite the header). An auth dependency may be a
    parameter or in the ``dependencies=[...]`` of the route, its ``APIRouter``, an
    ``include_router`` call or the ``FastAPI`` app; a router included more than once is
    authenticated only when every inclusion is.
    Not reported: a response that also sends ``Vary`` naming a credential header
    (``Vary: X-API-Key, Authorization``: the per-key CDN pattern), and a hook that sets
    ``public`` only under a test of the request path or endpoint
    (``if request.path.startswith("/static")``).

    Shared caches in front of the app (nginx ``proxy_cache``, Varnish, a CDN) store such a
    response and serve it to other callers; nginx did so for requests carrying
    ``Authorization``, a ``Cookie`` or ``X-API-Key``, and no shared cache knows that
    ``X-API-Key`` is a credential. A header set in a helper the view calls (at module
    level or nested in an app factory) is reported at the call. An ``after_request`` hook
    that makes every response public is reported too (medium confidence: the hook may skip
    authenticated ones).

    Vulnerable::

        @app.get("/account")
        @auth.login_required
        def account():
            resp = jsonify(load(auth.current_user()))
            resp.cache_control.public = True
            resp.cache_control.max_age = 300
            return resp

    Fixed::

        @app.get("/account")
        @auth.login_required
        def account():
            resp = jsonify(load(auth.current_user()))
            resp.cache_control.private = True
            return resp
    """
    authenticated = [view for view in model.views if view.authenticated]
    for view in authenticated:
        if _varies_on_credential(view.effects):
            continue
        for e in view.effects:
            if e.kind is EffectKind.CACHE_CONTROL_PUBLIC:
                yield Issue(view.source.path, e.site, {"view": view.func.name, "set": e.detail})
        cache = view.cache
        if cache is not None and cache.flavor is CacheFlavor.FASTAPI_CACHE:
            expire = n.keyword(cache.call, "expire") if cache.call else None
            ttl = n.const_int(expire) if expire is not None else None
            yield Issue(
                view.source.path,
                cache.node,
                {
                    "view": view.func.name,
                    "set": f"max-age={ttl if ttl is not None else '<expire>'} (by fastapi-cache)",
                },
                confidence=Confidence.MEDIUM,
            )
    if not authenticated:
        return
    views = sorted({v.func.name for v in authenticated})[:10]
    for source, hook in model.hooks:
        effects = model.analyzer.effects(source.path, hook)
        if _varies_on_credential(effects):
            continue
        narrowed = _path_narrowed(hook)
        for e in effects:
            if e.kind is EffectKind.CACHE_CONTROL_PUBLIC and id(e.site) not in narrowed:
                yield Issue(
                    source.path,
                    e.site,
                    {"hook": hook.name, "set": e.detail, "authenticated_views": views},
                    confidence=Confidence.MEDIUM,
                )


def _varies_on_credential(effects: tuple[Effect, ...]) -> bool:
    return any(e.kind is EffectKind.VARY and n.names_credential_header(e.detail) for e in effects)


_ROUTING = frozenset({"request.path", "request.endpoint", "request.blueprint", "request.url_rule"})


def _path_narrowed(fn: ast.AST) -> set[int]:
    """Ids of nodes that run only under an ``if`` testing the request path or endpoint."""
    inside: set[int] = set()
    for node in ast.walk(fn):
        if not isinstance(node, ast.If):
            continue
        names = {n.dotted(x) for x in ast.walk(node.test)}
        if names & _ROUTING:
            for stmt in node.body:
                inside.update(id(x) for x in ast.walk(stmt))
    return inside
