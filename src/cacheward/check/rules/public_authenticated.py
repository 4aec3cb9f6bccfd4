"""``public-authenticated``: an authenticated response is marked public for shared caches."""

from __future__ import annotations

from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from ..effect import EffectKind
from ..model import AppModel
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
        for e in view.effects:
            if e.kind is EffectKind.CACHE_CONTROL_PUBLIC:
                yield Issue(view.source.path, e.site, {"view": view.func.name, "set": e.detail})
    if not authenticated:
        return
    views = sorted({v.func.name for v in authenticated})[:10]
    for source, hook in model.hooks:
        for e in model.analyzer.effects(source.path, hook):
            if e.kind is EffectKind.CACHE_CONTROL_PUBLIC:
                yield Issue(
                    source.path,
                    e.site,
                    {"hook": hook.name, "set": e.detail, "authenticated_views": views},
                    confidence=Confidence.MEDIUM,
                )
