"""``lookup-before-auth``: a function reads the cache before it checks authorization."""

from __future__ import annotations

from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from ..effect import EffectKind
from ..model import AppModel
from ..registry import Issue, rule


@rule(
    "lookup-before-auth",
    Severity.HIGH,
    Confidence.MEDIUM,
    cwe=639,
    title="Cache lookup runs before the authorization check",
    fix="Check the caller's key and its right to the object first, then read the cache;"
    " or key the entry by principal so one caller can never read another's entry.",
)
def lookup_before_auth(model: AppModel) -> Iterator[Issue]:
    """A cache read that runs before the function's authorization check.

    When a function reads the cache (``cache.get``, ``cache.has``, ``key in some_cache``,
    ``some_cache[key]``) and only later checks the key or the caller's ownership
    (``abort(403)``, ``return ..., 401``, a helper that does), a stored object is served to
    whoever asks for its id first: broken object-level authorization through the cache.

    Vulnerable::

        @app.get("/reports/<rid>")
        def report(rid):
            hit = cache.get(f"report:{rid}")
            if hit is not None:
                return hit
            if load(rid).owner != current_owner():
                abort(403)
            ...

    Fixed::

        @app.get("/reports/<rid>")
        def report(rid):
            if load_meta(rid).owner != current_owner():
                abort(403)
            hit = cache.get(f"report:{rid}")
            ...
    """
    for source, fn in model.functions():
        effects = model.analyzer.effects(source.path, fn)
        checks = [e for e in effects if e.kind is EffectKind.AUTH_CHECK]
        if not checks:
            continue
        first = (checks[0].line, getattr(checks[0].site, "col_offset", 0))
        for e in effects:
            here = (e.line, getattr(e.site, "col_offset", 0))
            if e.kind is EffectKind.CACHE_LOOKUP and e.direct and here < first:
                yield Issue(
                    source.path,
                    e.site,
                    {"function": fn.name, "lookup": e.detail, "auth_check_line": checks[0].line},
                )
