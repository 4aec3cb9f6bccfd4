"""What a function does to the request, the cache and the response, in source order.

The analysis walks one function body and records :class:`Effect` values: inputs read,
cache lookups, authorization checks, ``Cache-Control`` writes, credentials put in keys.
Calls to functions defined in the scanned tree are followed (through a :class:`Resolver`);
their effects are re-sited at the call, so ordering inside the caller stays true.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Protocol

from . import names as n
from .effect import Effect, EffectKind
from .pattern import (
    credential_source,
    denies,
    denies_status,
    raises_deny,
    redirects_to_login,
    request_read,
    status_arg_denies,
)

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


class Resolver(Protocol):
    """Finds the function a call goes to and what the module binds."""

    def resolve(
        self, path: str, func: ast.expr, scope: FunctionNode | None = None
    ) -> tuple[str, FunctionNode] | None:
        """The file and definition ``func`` refers to, when it is in the scanned tree.

        :param scope: the function whose body ``func`` appears in: a bare name is looked
            up in it and its enclosing functions first (helpers nested in an app factory).
        """

    def caches(self, path: str) -> frozenset[str]:
        """Names bound to cache objects in the module ``path``."""

    def flask_session(self, path: str) -> bool:
        """Whether ``session`` is Flask's session in the module ``path``."""

    def maps(self, path: str) -> frozenset[str]:
        """Names bound to in-process containers (``{}``, ``dict()``) in ``path``."""

    def parser(self, path: str, name: str) -> list[tuple[str, tuple[str, ...]]]:
        """The arguments (and locations) of the reqparse parser ``name`` in ``path``."""


#: Where reqparse reads an argument when ``add_argument`` names no location.
_REQPARSE_DEFAULT = ("json", "values")

#: Node types that can read the request.
_READ_NODES = (ast.Attribute, ast.Subscript, ast.Call, ast.Compare)


class _Walker:
    """Walks one function; see :func:`analyze`."""

    def __init__(
        self, an: Analyzer, path: str, key_function: bool, scope: FunctionNode | None = None
    ) -> None:
        self.an = an
        self.path = path
        self.scope = scope
        self.key_function = key_function
        self.caches = an.resolver.caches(path)
        self.maps = an.resolver.maps(path)
        self.session = an.resolver.flask_session(path)
        self.taint: set[str] = set()
        self.out: list[Effect] = []
        #: parameters of the function: ``current_user`` passed in is a value, not the global
        self.params = _param_names(scope)

    def emit(self, kind: EffectKind, detail: str, node: ast.AST) -> None:
        self.out.append(Effect(kind, detail, node, node, self.path))

    # -- taint: does an expression carry a raw credential? ---------------------------
    def tainted(self, e: ast.AST | None) -> bool:
        if e is None:
            return False
        if isinstance(e, ast.Name):
            return e.id in self.taint or bool(n.CREDENTIAL_NAME.match(e.id))
        if isinstance(e, ast.Starred):
            return self.tainted(e.value)
        if isinstance(e, ast.Attribute | ast.Subscript):
            return credential_source(e) is not None or self.tainted(e.value)
        if isinstance(e, ast.Call):
            if credential_source(e) is not None:
                return True
            f = e.func
            if isinstance(f, ast.Attribute):
                if f.attr in {"format", "join", "replace"}:
                    return self.tainted(f.value) or any(self.tainted(a) for a in e.args)
                return self.tainted(f.value)
            if isinstance(f, ast.Name) and f.id in {"str", "repr", "format"}:
                return any(self.tainted(a) for a in e.args)
            return False
        if isinstance(e, ast.JoinedStr):
            return any(self.tainted(v.value) for v in e.values if isinstance(v, ast.FormattedValue))
        if isinstance(e, ast.BinOp):
            return self.tainted(e.left) or self.tainted(e.right)
        if isinstance(e, ast.BoolOp):
            return any(self.tainted(v) for v in e.values)
        if isinstance(e, ast.IfExp):
            return self.tainted(e.body) or self.tainted(e.orelse)
        if isinstance(e, ast.Tuple | ast.List):
            return any(self.tainted(v) for v in e.elts)
        return False

    def check_key(self, key: ast.AST | None, store: ast.AST | None = None) -> bool:
        """Report a credential in ``key`` (of the cache ``store``); whether there was one.

        A container inside the process (``_seen = {}``) is no store that others read: a
        credential in its keys is not reported, but still counts as one.
        """
        if key is None or not self.tainted(key):
            return False
        name = n.dotted(store) if store is not None else None
        if name is None or (name not in self.maps and n.last(name) not in self.maps):
            self.emit(EffectKind.CREDENTIAL_KEY, "cache key", key)
        return True

    def lookup(self, cache: ast.AST, key: ast.AST | None, node: ast.AST) -> None:
        # A lookup keyed by the credential is key verification (authentication itself),
        # not a response served before auth; credential-in-key reports it instead.
        if not self.check_key(key, cache):
            self.emit(EffectKind.CACHE_LOOKUP, n.dotted(cache) or "cache", node)

    # -- statements ------------------------------------------------------------------
    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            self.assign(node)
            return
        if isinstance(node, ast.Return):
            if node.value is not None:
                if denies(node.value):
                    self.emit(EffectKind.AUTH_CHECK, "returns 401/403", node)
                if self.key_function:
                    self.check_key(node.value)
                self.visit(node.value)
            return
        if isinstance(node, ast.Raise) and node.exc is not None and raises_deny(node.exc):
            self.emit(EffectKind.AUTH_CHECK, "raises", node)
        if self.expr(node):
            return
        for child in ast.iter_child_nodes(node):
            self.visit(child)

    def assign(self, node: ast.Assign | ast.AnnAssign | ast.AugAssign) -> None:
        value = node.value
        if value is not None:
            self.visit(value)
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            self.store(target, value)
        if value is None or not self.tainted(value):
            return
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            building = isinstance(value, ast.JoinedStr | ast.BinOp) or (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and value.func.attr in {"format", "join"}
            )
            keyish = "key" in target.id.lower() and not n.CREDENTIAL_NAME.match(target.id)
            if building and keyish:
                self.emit(EffectKind.CREDENTIAL_KEY, target.id, value)
            else:
                self.taint.add(target.id)

    def store(self, target: ast.AST, value: ast.expr | None) -> None:
        name = n.dotted(target) or ""
        if ".cache_control." in f".{name}":
            self.emit(EffectKind.CACHE_CONTROL, name, target)
            attr = n.last(name)
            if (attr == "public" and n.truthy(value)) or attr == "s_maxage":
                self.emit(EffectKind.CACHE_CONTROL_PUBLIC, name, target)
            return
        if isinstance(target, ast.Subscript):
            header = n.const_str(target.slice)
            if header is not None and header.lower() == "cache-control":
                self.cache_control(n.const_str(value), target)
            elif header is not None and header.lower() == "vary":
                self.emit(EffectKind.VARY, n.const_str(value) or "?", target)
            elif n.is_cacheish(target.value, self.caches):
                self.check_key(target.slice, target.value)
            self.visit(target.value)
            self.visit(target.slice)
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                self.store(elt, None)

    def cache_control(self, value: str | None, node: ast.AST) -> None:
        self.emit(EffectKind.CACHE_CONTROL, value or "", node)
        if value is not None and n.is_public_cache_control(value):
            self.emit(EffectKind.CACHE_CONTROL_PUBLIC, value, node)

    # -- expressions -------------------------------------------------------------------
    def expr(self, node: ast.AST) -> bool:
        """Record what ``node`` does; ``True`` when its children need no visit."""
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, _READ_NODES):
            source = credential_source(node)
            if source is not None:
                kind, detail = source
                self.emit(kind, detail, node)
                if kind is EffectKind.QUERY_CREDENTIAL:
                    self.emit(EffectKind.QUERY, detail, node)
                self.visit_args(node)
                return True
            read = request_read(node)
            if read is not None:
                for kind, detail in read:
                    self.emit(kind, detail, node)
                self.visit_args(node)
                return True
        if isinstance(node, ast.Name):
            if node.id in self.params:
                return True
            if node.id in n.IDENTITY_NAMES or (node.id == "session" and self.session):
                self.emit(EffectKind.IDENTITY, node.id, node)
            return True
        if isinstance(node, ast.Attribute):
            base = n.dotted(node.value)
            if base in {"g", "request.state"} and node.attr in n.G_IDENTITY:
                self.emit(EffectKind.IDENTITY, f"{base}.{node.attr}", node)
                return True
            if base == "request" and node.attr in {"user", "auth"}:  # Starlette's auth
                self.emit(EffectKind.IDENTITY, f"request.{node.attr}", node)
                return True
        if isinstance(node, ast.Compare):
            for op, right in zip(node.ops, node.comparators, strict=False):
                if isinstance(op, ast.In | ast.NotIn) and n.is_cacheish(right, self.caches):
                    self.lookup(right, node.left, node)
            return False
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            if n.is_cacheish(node.value, self.caches):
                self.lookup(node.value, node.slice, node)
            return False
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=False):
                key = n.const_str(k)
                if key is not None and key.lower() == "cache-control":
                    self.cache_control(n.const_str(v), v)
                elif key is not None and key.lower() == "vary":
                    self.emit(EffectKind.VARY, n.const_str(v) or "?", v)
            return False
        if isinstance(node, ast.Call):
            return self.call(node)
        return False

    def call(self, node: ast.Call) -> bool:
        func = node.func
        name = n.dotted(func) or ""
        tail = n.last(name) if name else ""
        if redirects_to_login(node):
            self.emit(EffectKind.AUTH_CHECK, "redirects to login", node)
        if tail == "abort" and node.args and denies_status(node.args[0]):
            self.emit(EffectKind.AUTH_CHECK, "abort", node)
        elif tail == "url_for" and n.truthy(n.keyword(node, "_external")):
            self.emit(EffectKind.HOST, "url_for(_external=True)", node)
        elif name in n.IDENTITY_CALLS or (
            isinstance(func, ast.Attribute) and func.attr in {"current_user", "username"}
        ):
            self.emit(EffectKind.IDENTITY, f"{name}()", node)
        elif isinstance(func, ast.Attribute) and n.is_cacheish(func.value, self.caches):
            key = node.args[0] if node.args else None
            if func.attr in n.LOOKUP_METHODS:
                self.lookup(func.value, key, node)
            elif func.attr in n.KEYED_METHODS:
                self.check_key(key, func.value)
        elif isinstance(func, ast.Attribute) and func.attr in {"set", "add", "setdefault"}:
            header = n.const_str(node.args[0]) if node.args else None
            value = n.const_str(node.args[1]) if len(node.args) > 1 else None
            if header is not None and header.lower() == "cache-control":
                self.cache_control(value, node)
            elif header is not None and header.lower() == "vary":
                self.emit(EffectKind.VARY, value or "?", node)
            elif n.dotted(func.value) is not None and n.last(n.dotted(func.value) or "") == "vary":
                self.emit(EffectKind.VARY, header or "?", node)
        if isinstance(func, ast.Attribute) and func.attr == "parse_args":
            self.parsed(func.value, node)
        if status_arg_denies(node):
            self.emit(EffectKind.AUTH_CHECK, "401/403 response", node)
        target = self.an.resolver.resolve(self.path, func, self.scope)
        if target is not None:
            for effect in self.an.effects(target[0], target[1]):
                self.out.append(replace(effect, site=node))
        elif tail and n.AUTH_CALL.match(tail):
            self.emit(EffectKind.AUTH_CHECK, f"{name}()", node)
        return False

    def parsed(self, parser: ast.expr, node: ast.AST) -> None:
        """``args = parser.parse_args()``: each argument is a read of where it comes from."""
        name = n.dotted(parser)
        for arg, places in self.an.resolver.parser(self.path, name) if name else []:
            for place in places:
                item = ast.Call(
                    func=ast.Attribute(
                        value=ast.Attribute(value=ast.Name("request"), attr=place),
                        attr="get",
                    ),
                    args=[ast.Constant(arg)],
                    keywords=[],
                )
                # reqparse's default (JSON body, then request.values) is a form field,
                # not an API key in the URL: only an explicit location names a credential.
                found = credential_source(item) if places != _REQPARSE_DEFAULT else None
                reads = [found] if found else request_read(item) or []
                for kind, detail in reads:
                    self.emit(kind, detail, node)
                    if kind is EffectKind.QUERY_CREDENTIAL:
                        self.emit(EffectKind.QUERY, detail, node)

    def visit_args(self, node: ast.AST) -> None:
        if isinstance(node, ast.Call):
            for arg in [*node.args, *(kw.value for kw in node.keywords)]:
                self.visit(arg)


class Analyzer:
    """Computes and memoizes the effects of functions in the scanned tree."""

    def __init__(self, resolver: Resolver, depth: int = 4) -> None:
        self.resolver = resolver
        self.depth = depth
        self._memo: dict[tuple[int, bool], tuple[Effect, ...]] = {}
        self._active: list[int] = []

    def effects(
        self, path: str, fn: FunctionNode, *, key_function: bool = False
    ) -> tuple[Effect, ...]:
        """Every effect of ``fn`` (and the helpers it calls), sited in ``fn``.

        :param key_function: treat returned values as cache keys (``make_cache_key``).
        """
        memo = (id(fn), key_function)
        if memo in self._memo:
            return self._memo[memo]
        if id(fn) in self._active or len(self._active) >= self.depth:
            return ()
        self._active.append(id(fn))
        try:
            walker = _Walker(self, path, key_function, fn)
            if isinstance(fn, ast.Lambda):
                if key_function:
                    walker.check_key(fn.body)
                walker.visit(fn.body)
            else:
                for stmt in fn.body:
                    walker.visit(stmt)
            result = tuple(sorted(walker.out, key=_position))
        finally:
            self._active.pop()
        self._memo[memo] = result
        return result


def _position(effect: Effect) -> tuple[int, int]:
    return getattr(effect.site, "lineno", 0), getattr(effect.site, "col_offset", 0)


def _param_names(fn: FunctionNode | None) -> frozenset[str]:
    if fn is None:
        return frozenset()
    a = fn.args
    names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    return frozenset(names)
