"""The model of the scanned app that the rules read: views, decorators, dependencies.

The model knows the views (decorators in order, route paths, blueprint, what their cache
key covers), the FastAPI dependencies, the ``after_request`` hooks, ``ProxyFix`` and
``CACHE_TYPE`` settings, and, through :class:`~cacheward.check.flow.Analyzer`, what every
function does. :mod:`.reader` reads each file into a :class:`~.source.Source`,
:mod:`.index` resolves names across them and :mod:`.builder` fills the model; nothing is
ever imported or run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from .effect import Effect, EffectKind
from .flow import Analyzer, FunctionNode
from .pattern import error_tests, side_effect_sites
from .source import Def, Site, Source


class DecoratorKind(Enum):
    """What a decorator does to a view."""

    ROUTE = "route"
    CACHE = "cache"
    AUTH = "auth"
    HOOK = "hook"
    GUARD = "guard"
    OTHER = "other"


class CacheFlavor(Enum):
    """Which library a cache decorator comes from."""

    FLASK_CACHING = "flask-caching"
    CACHEWARD = "cacheward"
    FASTAPI_CACHE = "fastapi-cache"
    CUSTOM = "custom"


@dataclass(frozen=True)
class Decorator:
    """One decorator of a function, as written."""

    node: ast.expr
    name: str
    kind: DecoratorKind
    flavor: CacheFlavor | None = None

    @property
    def call(self) -> ast.Call | None:
        return self.node if isinstance(self.node, ast.Call) else None

    @property
    def line(self) -> int:
        return self.node.lineno


@dataclass(frozen=True)
class Dependency:
    """One ``Depends(...)``/``Security(...)`` parameter of a FastAPI endpoint.

    :param marker: the ``Depends(...)`` call (where findings about it are reported).
    :param target: the dependency function in the scanned tree, if resolved.
    :param annotation: the parameter's annotation (the type of the value it receives).
    :param site: where in the endpoint's file it is written (the marker, or the parameter
        when the marker comes from an alias such as ``CurrentUser``).
    """

    name: str
    marker: ast.Call
    target: tuple[str, FunctionNode] | None
    annotation: ast.expr | None
    site: ast.AST


@dataclass(frozen=True)
class View:
    """A routed function (or one with both a cache and an auth decorator).

    :param inputs: what FastAPI reads to call it (dependencies, ``Header()``, query
        parameters), resolved before it runs; in the key when the key holds the endpoint's
        arguments (cover ``params``).
    :param gates: what the ``dependencies=[...]`` of its route, routers and app read and
        check; run before it, their values passed to nobody (never in a key).
    :param guarded: a ``before_request`` guard, or (FastAPI) every way to the endpoint runs
        a dependency that checks the caller and denies.
    """

    source: Source
    func: Def
    decorators: tuple[Decorator, ...]
    routes: tuple[str, ...]
    blueprint: str | None
    effects: tuple[Effect, ...]
    cover: frozenset[str]
    guarded: bool = False
    inputs: tuple[Effect, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    gates: tuple[Effect, ...] = ()

    @property
    def cache(self) -> Decorator | None:
        return next((d for d in self.decorators if d.kind is DecoratorKind.CACHE), None)

    @property
    def auth(self) -> tuple[Decorator, ...]:
        return tuple(d for d in self.decorators if d.kind is DecoratorKind.AUTH)

    @property
    def authenticated(self) -> bool:
        """An auth decorator or before_request guard, or a credential check in the body."""
        kinds = {e.kind for e in (*self.effects, *self.inputs)}
        return (
            bool(self.auth)
            or self.guarded
            or (
                EffectKind.AUTH_CHECK in kinds
                and bool(kinds & {EffectKind.CREDENTIAL, EffectKind.IDENTITY})
            )
        )

    def covers(self, *needed: str) -> bool:
        """Whether the cache key includes one of ``needed`` (``host``, ``header:x``...)."""
        return "*" in self.cover or any(x in self.cover for x in needed)

    def unkeyed(self, *kinds: EffectKind) -> tuple[Effect, ...]:
        """Reads of ``kinds`` that the cache key of this view leaves out (Flask-Caching,
        a hand-written decorator whose key was read, or ``@ward.cached(scope="shared")``)."""
        cache = self.cache
        if cache is None:
            return ()
        reads: tuple[Effect, ...] = (*self.effects, *self.inputs)
        if self.covers("params"):  # the arguments are in the key, minus any it skips
            skipped = tuple(e for e in self.inputs if f"skip:{_param(e)}" in self.cover)
            reads = (*self.effects, *skipped)
        found = [e for e in reads if e.kind in kinds and not self.covers(*_need(e))]
        if not found:
            return ()
        quiet, errors = side_effect_sites(self.func), error_tests(self.func)
        return tuple(
            e
            for e in found
            if id(e.site) not in quiet and (e.kind in _CALLER or id(e.site) not in errors)
        )


_CALLER = frozenset({EffectKind.IDENTITY, EffectKind.CREDENTIAL, EffectKind.QUERY_CREDENTIAL})


def _param(effect: Effect) -> str:
    """The endpoint parameter an input came through (``user=Depends(get_user)``)."""
    return effect.detail.split("=", 1)[0] if "=" in effect.detail else ""


def _need(effect: Effect) -> tuple[str, ...]:
    """The cover entries, any of which keys the input ``effect`` reads."""
    kind, detail = effect.kind, effect.detail
    if kind is EffectKind.HEADER:
        return f"header:{detail.lower()}", "header:*"
    if kind is EffectKind.COOKIE:
        return f"cookie:{detail}", "cookie:*"
    if kind is EffectKind.CREDENTIAL:
        return "identity", read_cover(effect), "cookie:*" if detail.startswith("cookie:") else ""
    if kind is EffectKind.IDENTITY:
        return ("identity",)
    if kind is EffectKind.HOST:
        return ("host",)
    return ("query",)


def read_cover(effect: Effect) -> str:
    """The cover entry naming the header or cookie a credential read takes."""
    if effect.detail.startswith("cookie:"):
        return effect.detail
    return f"header:{effect.detail.lower()}"


@dataclass
class AppModel:
    """Everything the rules know about the scanned tree."""

    sources: tuple[Source, ...]
    analyzer: Analyzer
    views: tuple[View, ...] = ()
    proxyfixes: tuple[Site, ...] = ()
    cache_types: tuple[Site, ...] = ()
    key_functions: tuple[tuple[str, FunctionNode], ...] = ()
    hooks: tuple[tuple[Source, Def], ...] = ()
    hooks_set_cache_control: bool = False

    def functions(self, *hints: str) -> Iterator[tuple[Source, Def]]:
        """Every function definition of every file, nested ones included.

        :param hints: only files whose text holds one of these words (all files if none).
        """
        for source in self.sources:
            if source.test_code or (hints and not source.hints.intersection(hints)):
                continue
            for fn in source.defs:
                yield source, fn

    @property
    def host_proxyfixes(self) -> tuple[Site, ...]:
        """``ProxyFix`` calls that trust ``X-Forwarded-Host``."""
        return tuple(p for p in self.proxyfixes if p.detail != "0")
