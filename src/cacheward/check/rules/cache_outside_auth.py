"""``cache-outside-auth``: a cache decorator wraps the auth decorator."""

from __future__ import annotations

from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from ..model import AppModel, DecoratorKind
from ..registry import Issue, rule


@rule(
    "cache-outside-auth",
    Severity.HIGH,
    Confidence.HIGH,
    cwe=524,
    title="Cache decorator is above (outside) the auth decorator",
    fix="Put the auth decorator above the cache decorator, so authentication runs before"
    " the lookup; with cacheward, @ward.protected(...) above @ward.cached(...).",
)
def cache_outside_auth(model: AppModel) -> Iterator[Issue]:
    """A cache decorator placed above an auth decorator answers before auth runs.

    Decorators apply bottom-up, so the top one runs first. Flask-Caching's documented
    order (``@cache.cached`` right under ``@app.route``) puts the cache outside
    ``@auth.login_required``: the first caller's 200 is served to everyone, anonymous
    callers included, and an anonymous caller's 401 to every valid key after it.
    Recognised auth decorators: flask-httpauth ``auth.login_required``, Flask-Login
    ``login_required``, flask-jwt-extended ``jwt_required``, cacheward ``ward.protected``,
    and decorators in the scanned tree whose wrapper reads a credential and denies with
    401/403, whether defined at module level or nested in an enclosing function such as an
    app factory.

    FastAPI: dependencies (``Depends``/``Security`` parameters and ``dependencies=[...]``
    on the route, router or app) are resolved before the endpoint and any decorator on it
    run, so fastapi-cache's ``@cache`` never answers before an auth *dependency*; a
    hand-written auth *decorator* under ``@cache`` is reported as in Flask.

    Vulnerable::

        @app.route("/me")
        @cache.cached(timeout=60)
        @auth.login_required
        def me(): ...

    Fixed::

        @app.route("/me")
        @auth.login_required
        @cache.cached(timeout=60, make_cache_key=per_user_key)
        def me(): ...
    """
    for view in model.views:
        kinds = [d.kind for d in view.decorators]
        if DecoratorKind.CACHE not in kinds:
            continue
        first_cache = kinds.index(DecoratorKind.CACHE)
        cache = view.decorators[first_cache]
        inner = [d for d in view.decorators[first_cache + 1 :] if d.kind is DecoratorKind.AUTH]
        if inner:
            yield Issue(
                view.source.path,
                cache.node,
                {
                    "view": view.func.name,
                    "cache": cache.name,
                    "auth": inner[0].name,
                    "routes": list(view.routes),
                },
            )
