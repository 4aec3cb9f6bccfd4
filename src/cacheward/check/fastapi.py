"""FastAPI and Starlette: what an endpoint's parameters and dependencies read.

FastAPI resolves every parameter before the endpoint (and any decorator on it) runs:
``Depends(get_current_user)`` and ``Security(api_key_header)`` call their dependency,
``Header()``, ``Cookie()`` and ``Query()`` read the request, and a bare scalar parameter
that is not in the path is a query parameter. These reads are :class:`Effect` values sited
at the parameter, so the rules see them like reads in a Flask view's body.

fastapi-cache2's ``@cache`` (``fastapi_cache.decorator.cache``) keys an entry on
``md5(f"{module}:{name}:{args}:{kwargs}")`` of the endpoint's arguments, with the
``Request`` and ``Response`` arguments taken out: a parameter's *value* is in the key (a
dependency's result by its ``repr``), while anything the endpoint reads from ``request``
itself is not. Its wrapper runs after dependencies are resolved, so an auth dependency
always runs before the cache lookup; and it sets ``Cache-Control: max-age=<expire>``
(without ``private``) on every response it serves.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from . import names as n
from .effect import Effect, EffectKind
from .flow import Analyzer
from .index import Index
from .model import Dependency
from .source import Def, Source

#: Parameter markers that make FastAPI call a dependency.
DEPENDS = frozenset({"Depends", "Security"})
#: Parameter markers that read one request input.
_MARKERS = frozenset({"Header", "Cookie", "Query"})
_KNOWN = DEPENDS | _MARKERS
#: ``fastapi.security`` schemes, by what they read.
_AUTHORIZATION_SCHEMES = frozenset(
    {
        "OAuth2PasswordBearer",
        "OAuth2AuthorizationCodeBearer",
        "OAuth2",
        "HTTPBearer",
        "HTTPBasic",
        "HTTPDigest",
        "OpenIdConnect",
    }
)
_API_KEY_SCHEMES = {
    "APIKeyHeader": "header",
    "APIKeyCookie": "cookie",
    "APIKeyQuery": "query",
}
#: Annotations of parameters FastAPI reads from the query string when not in the path.
_SCALARS = frozenset({"str", "int", "float", "bool", "UUID", "Optional", "Union"})


def is_fastapi_cache(source: Source, func: ast.expr) -> bool:
    """``cache`` imported from ``fastapi_cache.decorator`` (or ``fastapi_cache``)."""
    name = n.dotted(func)
    if name is None:
        return False
    head, _, rest = name.partition(".")
    module, attr = source.imports.get(head, (None, None))
    if module is None:
        return False
    full = ".".join(x for x in (module, attr, rest) if x)
    return full.startswith("fastapi_cache") and full.endswith(".cache")


def parameters(fn: Def) -> Iterator[tuple[ast.arg, ast.expr | None]]:
    """Each parameter with its default (``None`` when it has none)."""
    args = [*fn.args.posonlyargs, *fn.args.args]
    defaults: list[ast.expr | None] = [None] * (len(args) - len(fn.args.defaults))
    defaults.extend(fn.args.defaults)
    yield from zip(args, defaults, strict=True)
    yield from zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True)


def _annotated(ann: ast.expr | None) -> tuple[ast.expr | None, list[ast.Call]]:
    """``Annotated[T, Depends(f)]`` -> ``(T, [Depends(f)])``; anything else -> ``(ann, [])``."""
    if isinstance(ann, ast.Subscript) and n.last(n.dotted(ann.value) or "") == "Annotated":
        if isinstance(ann.slice, ast.Tuple) and ann.slice.elts:
            rest = [e for e in ann.slice.elts[1:] if isinstance(e, ast.Call)]
            return ann.slice.elts[0], rest
        return ann.slice, []
    return ann, []


def _is_scalar(ann: ast.expr | None) -> bool:
    if ann is None:
        return True
    if isinstance(ann, ast.Constant):
        return ann.value is None
    if isinstance(ann, ast.BinOp):
        return _is_scalar(ann.left) and _is_scalar(ann.right)
    if isinstance(ann, ast.Subscript):
        return n.last(n.dotted(ann.value) or "") in {"Optional", "Union"}
    return n.last(n.dotted(ann) or "") in _SCALARS


class Params:
    """Reads the parameters of endpoints and dependencies (memoized per function)."""

    def __init__(self, index: Index, analyzer: Analyzer, depth: int = 4) -> None:
        self.index = index
        self.analyzer = analyzer
        self.depth = depth
        self._memo: dict[int, tuple[Effect, ...]] = {}
        self._active: set[int] = set()

    def _resolved(self, source: Source, expr: ast.expr | None) -> ast.expr | None:
        """A module-level alias followed: ``CurrentUser = Annotated[User, Depends(f)]``
        used as an annotation, ``current_user = Depends(f)`` used as a default."""
        name = n.dotted(expr) if expr is not None else None
        if name is None:
            return expr
        found = self.index.lookup(source, name)
        if found is None:
            return expr
        home, attr = found
        return home.aliases.get(attr) or home.calls.get(attr) or expr

    def _markers(
        self, source: Source, arg: ast.arg, default: ast.expr | None
    ) -> tuple[ast.expr | None, list[tuple[ast.Call, ast.AST]]]:
        """The type a parameter receives and its ``Depends(...)``/``Header()``... markers,
        from its default and from ``Annotated[T, ...]`` (aliases followed), each with the
        node in this file to report it at (the marker, or the parameter using an alias)."""
        written = arg.annotation
        resolved = self._resolved(source, written)
        ann, found = _annotated(resolved)
        site: ast.AST = arg if resolved is not written else written or arg
        markers: list[tuple[ast.Call, ast.AST]] = [
            (m, m if resolved is written else site) for m in found
        ]
        value = self._resolved(source, default)
        if isinstance(value, ast.Call):
            markers.insert(0, (value, value if value is default else arg))
        return ann, markers

    def dependencies(self, source: Source, fn: Def) -> list[Dependency]:
        """The ``Depends``/``Security`` parameters of ``fn``."""
        out: list[Dependency] = []
        scope = self.index.enclosing(source.path, fn)
        for arg, default in parameters(fn):
            ann, markers = self._markers(source, arg, default)
            for marker, site in markers:
                if n.last(n.dotted(marker.func) or "") not in DEPENDS:
                    continue
                target = marker.args[0] if marker.args else n.keyword(marker, "dependency")
                resolved = (
                    self.index.resolve(source.path, target, scope) if target is not None else None
                )
                out.append(Dependency(arg.arg, marker, resolved, ann, site))
        return out

    def reads(
        self, source: Source, fn: Def, routes: tuple[str, ...] = (), bare: bool = True
    ) -> tuple[Effect, ...]:
        """What FastAPI reads to call ``fn``: its markers, dependencies and query scalars.

        :param routes: the endpoint's paths (``{item_id}`` there is a path parameter).
        :param bare: read a bare scalar parameter as a query parameter (FastAPI code only;
            a Flask view's parameters come from its URL rule).
        """
        if id(fn) in self._memo:
            return self._memo[id(fn)]
        if id(fn) in self._active or len(self._active) >= self.depth:
            return ()
        self._active.add(id(fn))
        try:
            out = list(self._reads(source, fn, routes, bare))
        finally:
            self._active.discard(id(fn))
        result = tuple(out)
        self._memo[id(fn)] = result
        return result

    def _reads(
        self, source: Source, fn: Def, routes: tuple[str, ...], bare: bool
    ) -> Iterator[Effect]:
        in_path = {
            part.strip("{}").split(":")[0]
            for route in routes
            for part in route.split("/")
            if part.startswith("{")
        }
        scope = self.index.enclosing(source.path, fn)
        for arg, default in parameters(fn):
            ann, found = self._markers(source, arg, default)
            markers = [(m, at) for m, at in found if n.last(n.dotted(m.func) or "") in _KNOWN]
            for marker, at in markers:
                yield from self._marker(source, arg, marker, scope, at)
            # any marker (Form(), Body(), File(), Path()...) says where FastAPI reads it
            if not bare or found or arg.arg in in_path or arg.arg in {"self", "cls"}:
                continue
            if _is_scalar(ann) and arg.arg.lower() in n.CREDENTIAL_NAME_HINTS:
                site = default if default is not None else arg
                yield Effect(EffectKind.QUERY_CREDENTIAL, arg.arg, site, site, source.path)
                yield Effect(EffectKind.QUERY, arg.arg, site, site, source.path)

    def _marker(
        self,
        source: Source,
        arg: ast.arg,
        marker: ast.Call,
        scope: Def | None,
        site: ast.AST | None = None,
    ) -> Iterator[Effect]:
        at = site or marker
        kind = n.last(n.dotted(marker.func) or "")
        alias = n.const_str(n.keyword(marker, "alias"))
        if kind in _MARKERS:
            field = alias or (arg.arg.replace("_", "-") if kind == "Header" else arg.arg)
            yield from _input(source.path, at, kind.lower(), field)
            return
        if kind not in DEPENDS:
            return
        target = marker.args[0] if marker.args else n.keyword(marker, "dependency")
        if target is None:
            return
        scheme = self._scheme(source, target)
        if scheme is not None:
            yield from _scheme_reads(source.path, at, scheme)
            return
        found = self.index.resolve(source.path, target, scope)
        if found is None:
            return
        path, dep = found
        if isinstance(dep, ast.Lambda):
            return
        home = self.index.by_path[path]
        effects = [*self.analyzer.effects(path, dep), *self.reads(home, dep, bare=home.fastapi)]
        for e in effects:
            yield Effect(e.kind, e.detail, at, e.origin, e.path)
        kinds = {e.kind for e in effects}
        if EffectKind.AUTH_CHECK in kinds and kinds & {
            EffectKind.CREDENTIAL,
            EffectKind.IDENTITY,
            EffectKind.QUERY_CREDENTIAL,
        }:
            # the endpoint receives the caller it checked
            detail = f"{arg.arg}=Depends({dep.name})"
            yield Effect(EffectKind.IDENTITY, detail, at, at, source.path)

    def gate_reads(
        self, source: Source, lists: list[ast.expr], fn: Def | None = None
    ) -> tuple[Effect, ...]:
        """What the ``dependencies=[Depends(a), Security(b)]`` lists read and check (a
        list or a marker may be a module-level name: ``dependencies=PROTECTED``)."""
        scope = self.index.enclosing(source.path, fn) if fn is not None else None
        out: list[Effect] = []
        arg = ast.arg(arg="_")
        for written in lists:
            home, listed = self._bound(source, written)
            if not isinstance(listed, ast.List | ast.Tuple):
                continue
            for item in listed.elts:
                where, marker = self._bound(home, item)
                if isinstance(marker, ast.Call):
                    out.extend(self._marker(where, arg, marker, scope if where is source else None))
        return tuple(out)

    def _bound(self, source: Source, expr: ast.expr) -> tuple[Source, ast.expr]:
        """The list or call a module-level name stands for, with the file it is written
        in (imports followed); any other expression as it is."""
        name = n.dotted(expr) if isinstance(expr, ast.Name | ast.Attribute) else None
        found = self.index.lookup(source, name) if name is not None else None
        if found is None:
            return source, expr
        home, attr = found
        bound: ast.expr | None = home.lists.get(attr) or home.calls.get(attr)
        return (home, bound) if bound is not None else (source, expr)

    def _scheme(self, source: Source, target: ast.expr) -> ast.Call | None:
        """The ``APIKeyHeader(name=...)``/``OAuth2PasswordBearer(...)`` call ``target`` is
        (inline, or a module-level object, imports followed)."""
        if isinstance(target, ast.Call):
            name = n.last(n.dotted(target.func) or "")
            return target if name in _AUTHORIZATION_SCHEMES or name in _API_KEY_SCHEMES else None
        dotted = n.dotted(target)
        if dotted is None:
            return None
        found = self.index.lookup(source, dotted)
        if found is None:
            return None
        call = found[0].calls.get(found[1])
        if call is None:
            return None
        name = n.last(n.dotted(call.func) or "")
        return call if name in _AUTHORIZATION_SCHEMES or name in _API_KEY_SCHEMES else None


def _input(path: str, site: ast.AST, where: str, field: str) -> Iterator[Effect]:
    """A read of ``field`` from the request's ``where`` (``header``, ``cookie``, ``query``)."""
    if where == "header":
        kind = EffectKind.CREDENTIAL if field.lower() in n.CREDENTIAL_HEADERS else EffectKind.HEADER
        yield Effect(kind, field, site, site, path)
    elif where == "cookie":
        if n.COOKIE_CREDENTIAL.match(field.replace("-", "_")):
            yield Effect(EffectKind.CREDENTIAL, f"cookie:{field}", site, site, path)
        else:
            yield Effect(EffectKind.COOKIE, field, site, site, path)
    else:
        if field.lower() in n.CREDENTIAL_NAME_HINTS:
            yield Effect(EffectKind.QUERY_CREDENTIAL, field, site, site, path)
        yield Effect(EffectKind.QUERY, field, site, site, path)


def _scheme_reads(path: str, site: ast.AST, scheme: ast.Call) -> Iterator[Effect]:
    """What a ``fastapi.security`` scheme reads; each one also denies (403/401) by default."""
    name = n.last(n.dotted(scheme.func) or "")
    if name in _API_KEY_SCHEMES:
        field = n.const_str(n.keyword(scheme, "name")) or (
            n.const_str(scheme.args[0]) if scheme.args else None
        )
        where = _API_KEY_SCHEMES[name]
        if where == "query":
            # an API key scheme names a credential whatever the parameter is called
            yield Effect(EffectKind.QUERY_CREDENTIAL, field or "?", site, site, path)
            yield Effect(EffectKind.QUERY, field or "?", site, site, path)
        elif where == "cookie":
            yield Effect(EffectKind.CREDENTIAL, f"cookie:{field or '?'}", site, site, path)
        else:
            yield Effect(EffectKind.CREDENTIAL, field or "?", site, site, path)
    else:
        yield Effect(EffectKind.CREDENTIAL, "Authorization", site, site, path)
    if n.keyword(scheme, "auto_error") is None or n.truthy(n.keyword(scheme, "auto_error")):
        yield Effect(EffectKind.AUTH_CHECK, f"{name} denies", site, site, path)
