"""``authenticated-no-cache-control``: an authenticated response leaves caching to chance."""

from __future__ import annotations

from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from ..effect import EffectKind
from ..model import AppModel
from ..registry import Issue, rule


@rule(
    "authenticated-no-cache-control",
    Severity.LOW,
    Confidence.MEDIUM,
    cwe=525,
    title="Authenticated view behind a proxy sends no Cache-Control",
    fix="Set Cache-Control: private (or no-store) on every authenticated response, in the"
    " view or in an after_request hook; cacheward's @ward.protected always does.",
)
def authenticated_no_cache_control(model: AppModel) -> Iterator[Issue]:
    """An authenticated view with no ``Cache-Control`` in an app that sits behind a proxy.

    One finding per app, at the ``ProxyFix``, listing the views: the fix is usually one
    ``after_request`` hook, not a line per view. Reported only when the project shows a
    shared cache in front (a ``ProxyFix``), and no
    ``after_request`` hook sets ``Cache-Control``. Varnish's builtin VCL stores a response
    with no caching headers for 120 s unless the request carried ``Authorization`` or a
    ``Cookie``: an ``X-API-Key`` caller's data is then served to the next caller.

    Vulnerable::

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)

        @app.get("/orders")
        @require_api_key
        def orders():
            return jsonify(list_orders())

    Fixed::

        @app.after_request
        def private(resp):
            resp.cache_control.private = True
            return resp
    """
    if not model.proxyfixes or model.hooks_set_cache_control:
        return
    bare: list[str] = []
    for view in model.views:
        if not view.authenticated or any(d.name.endswith(".protected") for d in view.auth):
            continue
        if not any(e.kind is EffectKind.CACHE_CONTROL for e in view.effects):
            bare.append(f"{view.func.name} ({view.source.path}:{view.func.lineno})")
    if bare:
        site = model.proxyfixes[0]
        yield Issue(site.path, site.node, {"count": len(bare), "views": bare[:20]})
