"""``lookup-before-auth``: a function reads the cache before it checks authorization."""

from __future__ import annotations

import ast
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

    Reported only when a ``return`` sits between the lookup and the check: the hit can be
    served before authorization. A lookup whose result only feeds the check (a memo of
    owners read before ``abort(403)``) serves nothing early.

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
    for source, fn in model.functions("cache"):
        effects = model.analyzer.effects(source.path, fn)
        checks = [e for e in effects if e.kind is EffectKind.AUTH_CHECK]
        if not checks:
            continue
        first = (checks[0].line, getattr(checks[0].site, "col_offset", 0))
        returns = _returns(fn)
        for e in effects:
            here = (e.line, getattr(e.site, "col_offset", 0))
            served = any(here <= r < first or r[0] <= e.line <= end for r, end in returns)
            if e.kind is EffectKind.CACHE_LOOKUP and e.direct and here < first and served:
                yield Issue(
                    source.path,
                    e.site,
                    {"function": fn.name, "lookup": e.detail, "auth_check_line": checks[0].line},
                )


def _returns(fn: ast.AST) -> list[tuple[tuple[int, int], int]]:
    """Start and last line of each ``return`` of ``fn`` (nested functions excluded)."""
    found: list[tuple[tuple[int, int], int]] = []
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Return):
            found.append(((node.lineno, node.col_offset), node.end_lineno or node.lineno))
        stack.extend(ast.iter_child_nodes(node))
    return found
