"""Views registered without a route decorator: ``add_url_rule`` and class-based views.

* ``app.add_url_rule("/me", view_func=me)`` (or the third positional argument) routes
  ``me`` with the decorators written on it, wherever ``me`` is defined (an app module
  routing views imported from ``routes/``). Decorators may also be applied as calls in the
  argument: ``auth.login_required(cache.cached(timeout=60)(me))`` reads as the stack
  ``@auth.login_required`` over ``@cache.cached(timeout=60)``.
* A ``MethodView`` (or ``View``) subclass is a view: each HTTP method (``get``, ``post``
  ..., ``dispatch_request`` for ``View``) is wrapped by the class's ``decorators = [...]``,
  which Flask's ``as_view`` applies in list order, the *last* one outermost, and then by
  the method's own decorators.
* A flask-restx / flask-restful / flask-smorest ``Resource`` (or ``MethodResource``)
  subclass is a view the same way; its ``method_decorators`` wrap each method too, and
  ``@api.route("/x")`` / ``@ns.route`` / ``@blp.route`` on the class gives its routes.
  A class whose bases are defined in the scanned tree counts when one of them does.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from . import names as n
from .index import Index
from .model import Decorator
from .source import Def, Source

_CLASS_BASES = frozenset({"MethodView", "View", "Resource", "MethodResource"})
_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "dispatch_request"}
)

Classify = Callable[[Source, ast.expr, "Def | None"], Decorator]


@dataclass(frozen=True)
class Registered:
    """A view found without a route decorator, with its decorators outermost first."""

    source: Source
    func: Def
    decorators: tuple[Decorator, ...]
    routes: tuple[str, ...]


def _unwrap(expr: ast.expr) -> tuple[list[ast.expr], ast.expr]:
    """``a(b(c)(view))`` -> ``([a, b(c)], view)``: decorators applied as calls."""
    stack: list[ast.expr] = []
    while isinstance(expr, ast.Call) and len(expr.args) == 1 and not expr.keywords:
        stack.append(expr.func)
        expr = expr.args[0]
    return stack, expr


def _view_func(call: ast.Call) -> ast.expr | None:
    found = n.keyword(call, "view_func")
    if found is None and len(call.args) >= 3:
        found = call.args[2]
    return found


def url_rules(source: Source, index: Index, classify: Classify) -> Iterator[Registered]:
    """Functions routed by ``add_url_rule`` in ``source`` (``as_view`` is left to
    :func:`class_views`, which knows the class's decorators)."""
    for call in source.url_rules:
        target = _view_func(call)
        if target is None:
            continue
        wrappers, inner = _unwrap(target)
        if isinstance(inner, ast.Call):  # MyView.as_view("name"): a class-based view
            continue
        scope = _scope_of(source, call)
        found = index.resolve(source.path, inner, scope)
        if found is None or isinstance(found[1], ast.Lambda):
            continue
        home, fn = index.by_path[found[0]], found[1]
        rule = call.args[0] if call.args else n.keyword(call, "rule")
        routes = (text,) if (text := n.const_str(rule)) is not None else ()
        decorators = tuple(classify(source, w, None) for w in wrappers)
        own = tuple(classify(home, d, fn) for d in fn.decorator_list)
        yield Registered(home, fn, decorators + own, routes)


def class_views(source: Source, classify: Classify) -> Iterator[Registered]:
    """HTTP-method functions of class-based views (``MethodView``, ``Resource``...)."""
    for cls in source.classes:
        if not _is_view_class(cls, source):
            continue
        listed: list[ast.expr] = []
        for stmt in cls.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.List | ast.Tuple):
                names = {t.id for t in stmt.targets if isinstance(t, ast.Name)}
                if names & {"decorators", "method_decorators"}:
                    listed.extend(stmt.value.elts)
        outer = tuple(classify(source, d, None) for d in reversed(listed))
        routes = tuple(_class_routes(cls))
        for stmt in cls.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name in _METHODS:
                own = tuple(classify(source, d, stmt) for d in stmt.decorator_list)
                yield Registered(source, stmt, outer + own, routes)


def _is_view_class(cls: ast.ClassDef, source: Source) -> bool:
    """A subclass of a known view base, directly or through a base class in this file."""
    local = {c.name: c for c in source.classes}
    seen: set[str] = set()
    stack = [cls]
    while stack:
        current = stack.pop()
        for base in current.bases:
            name = n.last(n.dotted(base) or "")
            if name in _CLASS_BASES:
                return True
            if name in local and name not in seen:
                seen.add(name)
                stack.append(local[name])
    return False


def _class_routes(cls: ast.ClassDef) -> Iterator[str]:
    """``@api.route("/x")`` on a Resource class (flask-restx, flask-smorest)."""
    for d in cls.decorator_list:
        if isinstance(d, ast.Call) and n.last(n.dotted(d.func) or "") == "route" and d.args:
            if (text := n.const_str(d.args[0])) is not None:
                yield text


def _scope_of(source: Source, call: ast.Call) -> Def | None:
    """The innermost function whose body holds ``call`` (an app factory), if any."""
    best: Def | None = None
    for fn in source.defs:
        if fn.lineno <= call.lineno <= (fn.end_lineno or fn.lineno):
            if best is None or fn.lineno > best.lineno:
                best = fn
    return best
