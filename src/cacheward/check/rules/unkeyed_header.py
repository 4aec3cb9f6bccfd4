"""``unkeyed-header``: a cached view reads a header, cookie or host its key leaves out."""

from __future__ import annotations

from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from ..effect import EffectKind
from ..model import AppModel
from ..registry import Issue, rule


@rule(
    "unkeyed-header",
    Severity.MEDIUM,
    Confidence.MEDIUM,
    cwe=349,
    title="Cached view reads a header, cookie or host that its cache key leaves out",
    fix="Add the input to the key (make_cache_key, or vary=[...] with cacheward), or stop"
    " reading it in a cached view; build absolute URLs from configuration, not the request.",
)
def unkeyed_header(model: AppModel) -> Iterator[Issue]:
    """Unkeyed-input cache poisoning: the response depends on an input the key ignores.

    One request with ``X-Forwarded-Host: evil.example`` (or a crafted cookie or Host)
    renders a response that the cache stores under the plain path and serves to
    everyone. ``request.host``, ``request.host_url``, ``request.url_root`` and
    ``url_for(..., _external=True)`` all read the host, which ``ProxyFix(x_host=1)`` takes
    from ``X-Forwarded-Host``; the finding is high-confidence when such a ProxyFix exists.
    A read whose value only feeds a side effect -- an argument of a logging or analytics
    call on a module-level object, or a name used only there -- does not vary the
    response and is not reported (the same holds for ``identity-unkeyed`` and
    ``query-string-ignored``).

    Vulnerable::

        @app.get("/links")
        @cache.cached(timeout=300)
        def links():
            return {"self": url_for("links", _external=True)}

    Fixed::

        @app.get("/links")
        @cache.cached(timeout=300)
        def links():
            return {"self": app.config["PUBLIC_BASE_URL"] + url_for("links")}
    """
    for view in model.views:
        reads = view.unkeyed(EffectKind.HEADER, EffectKind.COOKIE, EffectKind.HOST)
        if not reads or view.cache is None:
            continue
        host = any(e.kind is EffectKind.HOST for e in reads)
        yield Issue(
            view.source.path,
            view.cache.node,
            {
                "view": view.func.name,
                "reads": sorted({f"{e.kind.value} {e.detail} (line {e.line})" for e in reads}),
            },
            confidence=Confidence.HIGH if host and model.host_proxyfixes else None,
        )
