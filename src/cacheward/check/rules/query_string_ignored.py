"""``query-string-ignored``: a cached view reads the query, its key does not."""

from __future__ import annotations

from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from ..effect import EffectKind
from ..model import AppModel
from ..registry import Issue, rule


@rule(
    "query-string-ignored",
    Severity.MEDIUM,
    Confidence.MEDIUM,
    cwe=349,
    title="Cached view reads request.args, but its cache key ignores the query string",
    fix="Pass query_string=True to @cache.cached (or key on the parameters you read);"
    " cacheward's @ward.cached keys on the canonical query by default.",
)
def query_string_ignored(model: AppModel) -> Iterator[Issue]:
    """Flask-Caching's ``cached`` ignores the query string unless ``query_string=True``.

    ``/items?page=2`` is then served the entry stored for ``/items?page=1`` (or for
    ``/items?q=<script>``): wrong data at best, poisoning at worst. ``memoize`` keys on the
    view's arguments, which never include the query.

    Vulnerable::

        @app.get("/items")
        @cache.cached(timeout=60)
        def items():
            return page(int(request.args.get("page", 1)))

    Fixed::

        @app.get("/items")
        @cache.cached(timeout=60, query_string=True)
        def items(): ...
    """
    for view in model.views:
        reads = view.unkeyed(EffectKind.QUERY)
        if reads and view.cache is not None:
            yield Issue(
                view.source.path,
                view.cache.node,
                {
                    "view": view.func.name,
                    "reads": sorted({f"{e.detail} (line {e.line})" for e in reads}),
                },
            )
