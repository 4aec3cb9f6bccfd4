"""``proxyfix-host-unkeyed``: ``ProxyFix`` trusts X-Forwarded-Host, the cache ignores host."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from .. import names as n
from ..effect import EffectKind
from ..model import AppModel, CacheFlavor, View
from ..registry import Issue, rule


@rule(
    "proxyfix-host-unkeyed",
    Severity.MEDIUM,
    Confidence.MEDIUM,
    cwe=444,
    title="ProxyFix trusts X-Forwarded-Host while the cache key ignores the host",
    fix="Set x_host=0 unless the proxy overwrites X-Forwarded-Host, set SERVER_NAME, and key"
    " cached responses on the configured host (cacheward keys on it by default).",
)
def proxyfix_host_unkeyed(model: AppModel) -> Iterator[Issue]:
    """``ProxyFix(x_host=1)`` makes ``request.host`` come from ``X-Forwarded-Host``.

    The proxy in front keys its cache on ``Host`` and forwards ``X-Forwarded-Host``
    untouched; the app builds links and redirects from the forwarded value; Flask-Caching
    keys on the path alone. One request with ``X-Forwarded-Host: evil.example`` then
    poisons the entry every caller gets. Reported for cached views whose response can
    carry the host: they read it (``request.host_url``, ``url_for(..., _external=True)``)
    or render a template (which may build absolute links); a JSON view that reads no host
    cannot be poisoned this way.

    Vulnerable::

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_host=1)
        cache = Cache(app)

        @app.get("/")
        @cache.cached(timeout=300)
        def index(): ...

    Fixed::

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)
        app.config["SERVER_NAME"] = "api.example.com"
    """
    if not model.host_proxyfixes:
        return
    cached = [
        v
        for v in model.views
        if v.cache is not None
        and v.cache.flavor is CacheFlavor.FLASK_CACHING
        and not v.covers("host")
        and _carries_host(v)
    ]
    if not cached:
        return
    names = sorted({v.func.name for v in cached})
    for site in model.host_proxyfixes:
        yield Issue(site.path, site.node, {"x_host": site.detail, "cached_views": names[:10]})


def _carries_host(view: View) -> bool:
    if any(e.kind is EffectKind.HOST for e in view.effects):
        return True
    return any(
        isinstance(x, ast.Call) and n.last(n.dotted(x.func) or "").startswith("render_template")
        for x in ast.walk(view.func)
    )
