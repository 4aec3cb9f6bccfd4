"""``identity-unkeyed``: a cached view reads the caller, but its key does not."""

from __future__ import annotations

from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from ..effect import EffectKind
from ..model import AppModel
from ..registry import Issue, rule


@rule(
    "identity-unkeyed",
    Severity.HIGH,
    Confidence.MEDIUM,
    cwe=524,
    title="Cached view reads the caller's identity, but its cache key does not include it",
    fix="Key the entry on the principal (make_cache_key returning a key with an HMAC of the"
    " user id), or use cacheward's @ward.cached, whose default scope is the principal.",
)
def identity_unkeyed(model: AppModel) -> Iterator[Issue]:
    """A cached view whose response depends on who is calling, with a key that does not.

    Flask-Caching's ``cached`` keys on the request path alone (``query_string=True`` adds
    the query, nothing else), and ``memoize`` on the view's arguments. A view that reads
    ``current_user``, ``auth.current_user()``, ``g.user``, ``get_jwt_identity()``,
    ``session`` or the ``X-API-Key``/``Authorization`` header renders one caller's data,
    which the cache then serves to every other caller of the same path.

    FastAPI with fastapi-cache2: the default key holds the endpoint's arguments, so a
    ``Depends(get_current_user)`` or ``Header()`` value is in it; but the ``Request`` is
    taken out, so reading ``request.headers``, ``request.state.user`` or ``request.user``
    in a cached endpoint is unkeyed, and so is every argument under a ``key_builder=``
    that does not use its ``args``/``kwargs``.

    Vulnerable::

        @app.get("/me")
        @auth.login_required
        @cache.cached(timeout=60)
        def me():
            return {"user": auth.current_user()}

    Fixed::

        def per_user() -> str:
            return f"me:{user_scope(auth.current_user())}"

        @app.get("/me")
        @auth.login_required
        @cache.cached(timeout=60, make_cache_key=per_user)
        def me(): ...
    """
    for view in model.views:
        reads = view.unkeyed(EffectKind.IDENTITY, EffectKind.CREDENTIAL)
        if reads and view.cache is not None:
            yield Issue(
                view.source.path,
                view.cache.node,
                {
                    "view": view.func.name,
                    "reads": sorted({f"{e.detail} (line {e.line})" for e in reads}),
                },
            )
