"""Classify decorators, find views and app-wide settings: fills an :class:`AppModel`."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import replace

from . import names as n
from .effect import Effect, EffectKind
from .fastapi import Params, is_fastapi_cache
from .flow import Analyzer, FunctionNode
from .index import Index
from .model import (
    AppModel,
    CacheFlavor,
    Decorator,
    DecoratorKind,
    Dependency,
    View,
    read_cover,
)
from .pattern import serves_cached
from .registration import class_views, url_rules
from .router import Reached, Routers, route_path
from .source import Def, Site, Source

_ROUTE_OWNER = re.compile(r"(^|_)(app|bp|blueprint|api|router)$", re.IGNORECASE)
_HOOKS = frozenset({"after_request", "after_app_request"})
_GUARDS = frozenset({"before_request", "before_app_request"})
_CALLER_READS = frozenset({EffectKind.CREDENTIAL, EffectKind.IDENTITY, EffectKind.QUERY_CREDENTIAL})
_READ_COVER = {
    EffectKind.IDENTITY: "identity",
    EffectKind.CREDENTIAL: "identity",
    EffectKind.HOST: "host",
    EffectKind.QUERY: "query",
    EffectKind.QUERY_CREDENTIAL: "query",
}


def _ward_cover(cache: Decorator) -> frozenset[str]:
    """``@ward.cached``: enforced at run time, except that a ``shared`` entry is one for
    every caller, so a view that reads who is calling is wrong under it."""
    scope = n.const_str(n.keyword(cache.call, "scope")) if cache.call else None
    if scope != "shared":
        return frozenset({"*"})
    return frozenset({"path", "query", "host", "header:*", "cookie:*"})


def build(sources: Sequence[Source]) -> AppModel:
    """Build the model of the app spread over ``sources``."""
    index = Index(sources)
    for source in sources:
        if "cache" not in source.hints and index.caches(source.path):
            source.hints |= {"cache"}  # a Cache object imported under another name
    model = AppModel(sources=tuple(sources), analyzer=Analyzer(index))
    _Builder(model, index).run()
    return model


class _Builder:
    def __init__(self, model: AppModel, index: Index) -> None:
        self.model = model
        self.index = index
        self.keys: list[tuple[str, FunctionNode]] = []
        self._custom: dict[int, DecoratorKind] = {}
        self.params = Params(index, model.analyzer)
        self.routers = Routers(index, self.params, model.sources)

    def run(self) -> None:
        views: list[View] = []
        proxyfixes: list[Site] = []
        cache_types: list[Site] = []
        hooks: list[tuple[Source, Def]] = []
        routed: list[tuple[Source, Def, tuple[Decorator, ...]]] = []
        guards: set[tuple[str, str]] = set()
        for source in self.model.sources:
            if source.test_code:
                continue  # the project's tests and fixtures: their views are not served
            for fn in source.defs:
                decorators = tuple(self.decorator(source, d, fn) for d in fn.decorator_list)
                kinds = {d.kind for d in decorators}
                if DecoratorKind.HOOK in kinds:
                    hooks.append((source, fn))
                    if any(e.kind is EffectKind.CACHE_CONTROL for e in self.effects(source, fn)):
                        self.model.hooks_set_cache_control = True
                if DecoratorKind.GUARD in kinds and self.checks_caller(source, fn):
                    guards.update(self.guarded_scope(source, d) for d in decorators)
                both = {DecoratorKind.CACHE, DecoratorKind.AUTH} <= kinds
                if DecoratorKind.ROUTE in kinds or both:
                    routed.append((source, fn, decorators))
            proxyfixes.extend(source.proxyfixes)
            cache_types.extend(source.cache_types)
        seen = {id(fn) for _, fn, _ in routed}
        extra: dict[int, tuple[str, ...]] = {}
        for source in self.model.sources:
            if source.test_code:
                continue
            for reg in [
                *url_rules(source, self.index, self.decorator),
                *class_views(source, self.decorator),
            ]:
                if id(reg.func) not in seen:
                    seen.add(id(reg.func))
                    routed.append((reg.source, reg.func, reg.decorators))
                extra[id(reg.func)] = extra.get(id(reg.func), ()) + reg.routes
        for source, fn, decorators in routed:
            view = self.view(source, fn, decorators)
            if extra.get(id(fn)):
                view = replace(view, routes=view.routes + extra[id(fn)])
            if ("*", "*") in guards or (source.path, view.blueprint or "") in guards:
                view = replace(view, guarded=True)
            views.append(view)
        self.model.views = tuple(views)
        self.model.proxyfixes = tuple(proxyfixes)
        self.model.cache_types = tuple(cache_types)
        self.model.key_functions = tuple(self.keys)
        self.model.hooks = tuple(hooks)

    def effects(self, source: Source, fn: FunctionNode) -> tuple[Effect, ...]:
        return self.model.analyzer.effects(source.path, fn)

    def checks_caller(self, source: Source, fn: Def) -> bool:
        """Whether ``fn`` reads a credential or the caller and denies with 401/403."""
        kinds = {e.kind for e in self.effects(source, fn)}
        return EffectKind.AUTH_CHECK in kinds and bool(kinds & _CALLER_READS)

    def guarded_scope(self, source: Source, hook: Decorator) -> tuple[str, str]:
        """``("*", "*")`` for an app-wide before_request, else the blueprint's file and name."""
        owner = hook.name.rsplit(".", 1)[0]
        if n.last(hook.name) == "before_app_request" or (
            self.index.object_kind(source, owner) != "Blueprint"
        ):
            return "*", "*"
        return source.path, owner

    # -- decorators ----------------------------------------------------------------------
    def decorator(self, source: Source, node: ast.expr, fn: Def | None = None) -> Decorator:
        func = node.func if isinstance(node, ast.Call) else node
        name = n.dotted(func)
        if name is None:
            return Decorator(node, "?", DecoratorKind.OTHER)
        tail = n.last(name)
        owner = name[: -len(tail) - 1] if "." in name else ""
        kind = self.index.object_kind(source, owner) if owner else None
        if tail in n.ROUTE_METHODS and owner:
            if kind in n.APP_KINDS or _ROUTE_OWNER.search(n.last(owner)):
                return Decorator(node, name, DecoratorKind.ROUTE)
        if is_fastapi_cache(source, func) or self.wraps_fastapi_cache(source, func, fn):
            return Decorator(node, name, DecoratorKind.CACHE, CacheFlavor.FASTAPI_CACHE)
        if tail in _HOOKS:
            return Decorator(node, name, DecoratorKind.HOOK)
        if tail in _GUARDS:
            return Decorator(node, name, DecoratorKind.GUARD)
        if tail in {"cached", "memoize"} and owner:
            ward = kind == "Cacheward" or (kind is None and n.last(owner) == "ward")
            flavor = CacheFlavor.CACHEWARD if ward else CacheFlavor.FLASK_CACHING
            return Decorator(node, name, DecoratorKind.CACHE, flavor)
        if tail in n.AUTH_DECORATORS or (
            tail == "protected" and (kind == "Cacheward" or n.last(owner) == "ward")
        ):
            return Decorator(node, name, DecoratorKind.AUTH)
        custom = self.custom(source, func, fn)
        if custom is DecoratorKind.CACHE:
            return Decorator(node, name, DecoratorKind.CACHE, CacheFlavor.CUSTOM)
        return Decorator(node, name, custom)

    def custom(self, source: Source, func: ast.expr, decorated: Def | None = None) -> DecoratorKind:
        """What a decorator defined in the scanned tree does (at module level, or nested
        in a function enclosing the ``decorated`` one, such as an app factory).

        AUTH: its wrapper reads a credential or the caller and denies with 401/403.
        CACHE: its wrapper reads a cache, checks nothing, and can return what it read (a
        rate limiter reads a counter from the cache but never answers with it).
        """
        scope = self.index.enclosing(source.path, decorated) if decorated else None
        target = self.index.resolve(source.path, func, scope)
        if target is None:
            return DecoratorKind.OTHER
        path, fn = target
        if id(fn) not in self._custom:
            nested = any(
                isinstance(x, ast.FunctionDef | ast.AsyncFunctionDef) and x is not fn
                for x in ast.walk(fn)
            )
            kinds = {e.kind for e in self.model.analyzer.effects(path, fn)}
            kind = DecoratorKind.OTHER
            if nested and EffectKind.AUTH_CHECK in kinds and kinds & _CALLER_READS:
                kind = DecoratorKind.AUTH
            elif (
                nested
                and EffectKind.CACHE_LOOKUP in kinds
                and EffectKind.AUTH_CHECK not in kinds
                and serves_cached(fn, self.index.caches(path))
            ):
                kind = DecoratorKind.CACHE
            self._custom[id(fn)] = kind
        return self._custom[id(fn)]

    def wraps_fastapi_cache(self, source: Source, func: ast.expr, decorated: Def | None) -> bool:
        """A function in the tree that returns fastapi-cache's ``cache(...)`` (a project's
        ``cached = lambda **kw: cache(expire=60, **kw)`` style wrapper)."""
        if not source.fastapi and not any(
            m.startswith("fastapi") for m, _ in source.imports.values()
        ):
            return False
        scope = self.index.enclosing(source.path, decorated) if decorated else None
        target = self.index.resolve(source.path, func, scope)
        if target is None or isinstance(target[1], ast.Lambda):
            return False
        home = self.index.by_path[target[0]]
        return any(
            isinstance(x, ast.Return)
            and isinstance(x.value, ast.Call)
            and is_fastapi_cache(home, x.value.func)
            for x in ast.walk(target[1])
        )

    # -- views ---------------------------------------------------------------------------
    def view(self, source: Source, fn: Def, decorators: tuple[Decorator, ...]) -> View:
        routes: list[str] = []
        blueprint: str | None = None
        routed = [d for d in decorators if d.kind is DecoratorKind.ROUTE and d.call is not None]
        for d in routed:
            if (text := route_path(d)) is not None:
                routes.append(text)
            owner = d.name.rsplit(".", 1)[0]
            if self.index.object_kind(source, owner) == "Blueprint":
                blueprint = owner
        cache = next((d for d in decorators if d.kind is DecoratorKind.CACHE), None)
        inputs: tuple[Effect, ...] = ()
        dependencies: tuple[Dependency, ...] = ()
        reached = Reached(tuple(routes), (), False)
        if source.fastapi:
            reached = self.routers.reach(source, fn, routed)
            inputs = self.params.reads(source, fn, reached.routes, bare=True)
            dependencies = tuple(self.params.dependencies(source, fn))
        return View(
            source=source,
            func=fn,
            decorators=decorators,
            routes=reached.routes,
            blueprint=blueprint,
            effects=self.model.analyzer.effects(source.path, fn),
            cover=self.cover(source, cache, fn) if cache else frozenset({"*"}),
            guarded=reached.guarded,
            inputs=inputs,
            dependencies=dependencies,
            gates=reached.gates,
        )

    def cover(self, source: Source, cache: Decorator, view: Def) -> frozenset[str]:
        """The request inputs the key of ``cache`` includes (``*``: everything or unknown)."""
        scope = self.index.enclosing(source.path, view)
        if cache.flavor is CacheFlavor.CACHEWARD:
            return _ward_cover(cache)
        if cache.flavor is CacheFlavor.FASTAPI_CACHE:
            return self.fastapi_cover(source, cache, scope)
        if cache.flavor is CacheFlavor.CUSTOM:
            return self.custom_cover(source, cache, scope)
        call = cache.call
        cover = {"path"}
        if call is None or n.last(cache.name) == "memoize":
            return frozenset(cover)
        if n.truthy(n.keyword(call, "query_string")):
            cover.add("query")
        options = [n.keyword(call, "make_cache_key"), n.keyword(call, "key_prefix")]
        if len(call.args) > 1:
            options.append(call.args[1])
        unless = self.function(source, n.keyword(call, "unless"), scope)
        if unless is not None:
            # unless=lambda: current_user.is_authenticated: callers are never cached.
            kinds = {e.kind for e in self.model.analyzer.effects(*unless)}
            if kinds & {EffectKind.IDENTITY, EffectKind.CREDENTIAL}:
                cover.add("identity")
        for option in options:
            if option is None or n.const_str(option) is not None:
                continue
            target = self.function(source, option, scope)
            if target is None:
                return frozenset({"*"})
            path, fn = target
            self.keys.append((path, fn))
            for e in self.model.analyzer.effects(path, fn, key_function=True):
                if e.kind is EffectKind.HEADER:
                    cover.add(f"header:{e.detail.lower()}")
                if e.kind is EffectKind.CREDENTIAL and e.detail != "Authorization":
                    cover.add(read_cover(e))
                if e.kind is EffectKind.COOKIE:
                    cover.add(f"cookie:{e.detail}")
                if e.kind in _READ_COVER:
                    cover.add(_READ_COVER[e.kind])
        return frozenset(cover)

    def custom_cover(self, source: Source, cache: Decorator, scope: Def | None) -> frozenset[str]:
        """The inputs a hand-written cache decorator reads, all of which may be in its key.

        ``key.format(request.path, request.data)`` keys on the path; a view under it that
        reads ``request.args`` is then served another query's entry.
        """
        func = cache.call.func if cache.call else cache.node
        target = self.index.resolve(source.path, func, scope)
        if target is None:
            return frozenset({"*"})
        cover = {"path", *_argument_cover(target[1])}
        for e in self.model.analyzer.effects(*target, key_function=True):
            if e.kind is EffectKind.HEADER:
                cover.add(f"header:{e.detail.lower()}")
            if e.kind is EffectKind.CREDENTIAL:
                cover.add(read_cover(e))
            if e.kind is EffectKind.COOKIE:
                cover.add(f"cookie:{e.detail}")
            if e.kind in _READ_COVER:
                cover.add(_READ_COVER[e.kind])
        return frozenset(cover)

    def fastapi_cover(self, source: Source, cache: Decorator, scope: Def | None) -> frozenset[str]:
        """fastapi-cache's default key holds the endpoint (module and name) and its
        arguments, ``Request`` and ``Response`` taken out (cover ``params``). A
        ``key_builder=`` is read like ``make_cache_key``: it keys what it reads, and the
        arguments only when it uses its ``args``/``kwargs``."""
        builder = n.keyword(cache.call, "key_builder") if cache.call else None
        if builder is None or (isinstance(builder, ast.Constant) and builder.value is None):
            return frozenset({"path", "params"})
        target = self.function(source, builder, scope)
        if target is None:
            return frozenset({"*"})
        path, fn = target
        self.keys.append((path, fn))
        cover = {"path"}
        names = {x.id for x in ast.walk(fn) if isinstance(x, ast.Name)}
        if names & {"args", "kwargs"}:
            cover.add("params")
        for e in self.model.analyzer.effects(path, fn, key_function=True):
            if e.kind is EffectKind.HEADER:
                cover.add(f"header:{e.detail.lower()}")
            if e.kind is EffectKind.CREDENTIAL:
                cover.add(read_cover(e))
            if e.kind is EffectKind.COOKIE:
                cover.add(f"cookie:{e.detail}")
            if e.kind in _READ_COVER:
                cover.add(_READ_COVER[e.kind])
        return frozenset(cover)

    def function(
        self, source: Source, option: ast.expr | None, scope: Def | None = None
    ) -> tuple[str, FunctionNode] | None:
        """The lambda or the function in the tree that a decorator option names."""
        if option is None:
            return None
        if isinstance(option, ast.Lambda):
            return source.path, option
        return self.index.resolve(source.path, option, scope)


def _argument_cover(fn: FunctionNode) -> set[str]:
    """A hand-written decorator that builds its key from the call's ``args``/``kwargs``
    keys the arguments (``params``), except names a loop over them skips
    (``if k in ["db", "current_user"]: continue``: ``skip:current_user``)."""
    passed: set[int] = set()  # f(*args, **kwargs): handed on, not read
    for node in ast.walk(fn):
        if isinstance(node, ast.Call):
            passed.update(id(a.value) for a in node.args if isinstance(a, ast.Starred))
            passed.update(id(k.value) for k in node.keywords if k.arg is None)
    read = {
        x.id
        for x in ast.walk(fn)
        if isinstance(x, ast.Name) and id(x) not in passed and isinstance(x.ctx, ast.Load)
    }
    if not read & {"args", "kwargs"}:
        return set()
    cover = {"params"}
    for node in ast.walk(fn):
        # `if k in ("db", "current_user"): continue` leaves those names out of the key
        if isinstance(node, ast.If) and [type(x) for x in node.body] == [ast.Continue]:
            for item in ast.walk(node.test):
                if (text := n.const_str(item)) is not None and text.isidentifier():
                    cover.add(f"skip:{text}")
    return cover
