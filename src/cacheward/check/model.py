"""One AST pass over the scanned tree: a model of the Flask app that the rules read.

The model knows the views (decorators in order, route paths, blueprint), the cache and
auth objects, the custom auth decorators, ``ProxyFix`` and ``CACHE_TYPE`` settings, and,
through :class:`~cacheward.check.flow.Analyzer`, what every function does. Imports are
resolved within the scanned tree; nothing is ever imported or run.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum

from . import names as n
from .effect import Effect, EffectKind
from .flow import Analyzer, FunctionNode
from .pattern import error_tests, side_effect_sites
from .scope import Scopes

Def = ast.FunctionDef | ast.AsyncFunctionDef


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


@dataclass
class Source:
    """One parsed file.

    :param module: the dotted module name, from the package layout on disk.
    :param imports: local name to ``(module, name)``; ``name`` is ``None`` for ``import m``.
    :param objects: module-level name to the class it is built from (``Cache``, ``Flask``).
    """

    path: str
    module: str
    tree: ast.Module
    is_package: bool = False
    functions: dict[str, Def] = field(default_factory=dict)
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    objects: dict[str, str] = field(default_factory=dict)
    flask_session: bool = False
    defs: list[Def] = field(default_factory=list)
    proxyfixes: list[Site] = field(default_factory=list)
    cache_types: list[Site] = field(default_factory=list)
    scopes: Scopes | None = None
    #: ``X.add_url_rule(...)`` calls and class definitions (for ``MethodView`` views)
    url_rules: list[ast.Call] = field(default_factory=list)
    classes: list[ast.ClassDef] = field(default_factory=list)
    #: names (and ``self.x`` attributes) bound to in-process containers anywhere in the file
    maps: set[str] = field(default_factory=set)
    #: reqparse parsers: receiver name to ``(argument, locations)`` of its ``add_argument``
    parsers: dict[str, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict)
    #: module-level name to the call that builds it (``APIKeyHeader(name="X-API-Key")``)
    calls: dict[str, ast.Call] = field(default_factory=dict)
    #: module-level type aliases (``CurrentUser = Annotated[User, Depends(get_user)]``)
    aliases: dict[str, ast.Subscript] = field(default_factory=dict)
    #: the file imports FastAPI or Starlette
    fastapi: bool = False
    #: a test or fixture of the scanned project: its views and functions are not reported
    test_code: bool = False
    #: words the file's text holds (``request``, ``cache``, ``key``): a rule that looks
    #: for what a function itself does skips files that cannot hold it
    hints: frozenset[str] = frozenset({"request", "cache", "key", "parse_args"})

    def binds(self, name: str) -> bool:
        """Whether the module defines ``name`` (a function, an object or an alias)."""
        return name in self.functions or name in self.objects or name in self.aliases


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


@dataclass(frozen=True)
class Site:
    """A place in a file, with what was found there."""

    path: str
    node: ast.AST
    detail: str

    @property
    def line(self) -> int:
        return getattr(self.node, "lineno", 1)


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


class Index:
    """Name resolution across the scanned tree (the :class:`~.flow.Resolver`)."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self.by_path = {s.path: s for s in sources}
        self.by_module: dict[str, Source] = {}
        self.by_suffix: dict[str, list[Source]] = {}
        for s in sources:
            self.by_module.setdefault(s.module, s)
            for name in _dotted_names(s):
                self.by_suffix.setdefault(name, []).append(s)

    def module(self, name: str) -> Source | None:
        if name in self.by_module:
            return self.by_module[name]
        found = self.by_suffix.get(name, [])
        return found[0] if len(found) == 1 else None

    def lookup(self, source: Source, name: str, hops: int = 3) -> tuple[Source, str] | None:
        """The file and module-level name that the dotted ``name`` in ``source`` refers to."""
        head, _, rest = name.partition(".")
        if not rest and source.binds(head):
            return source, head
        if head not in source.imports or hops == 0:
            return (source, head) if not rest else None
        mod, attr = source.imports[head]
        if attr is not None:
            target = self.module(mod)
            if target is not None and target.binds(attr):
                return self.lookup(target, attr + (f".{rest}" if rest else ""), hops - 1)
            if target is not None and attr in target.imports:
                return self.lookup(target, attr + (f".{rest}" if rest else ""), hops - 1)
            mod = f"{mod}.{attr}"
        target = self.module(mod)
        if target is None or not rest:
            return None
        return self.lookup(target, rest, hops - 1)

    def resolve(
        self, path: str, func: ast.expr, scope: FunctionNode | None = None
    ) -> tuple[str, FunctionNode] | None:
        name = n.dotted(func)
        source = self.by_path.get(path)
        if name is None or source is None:
            return None
        if scope is not None and "." not in name:
            local = self.scopes(source).lookup(scope, name)
            if local is not None:
                return path, local
        found = self.lookup(source, name)
        if found is not None and found[1] in found[0].functions:
            return found[0].path, found[0].functions[found[1]]
        if "." not in name:
            return self._made_by_factory(source, name, scope)
        return None

    def _made_by_factory(
        self, source: Source, name: str, scope: FunctionNode | None, hops: int = 2
    ) -> tuple[str, FunctionNode] | None:
        """The function a decorator factory returns, for ``name = factory(...)`` bound in
        ``scope``, an enclosing function or the module (``require_key = make_auth(keys)``
        inside an app factory): the factory's ``return inner`` of a function it defines."""
        if hops == 0:
            return None
        bodies: list[list[ast.stmt]] = []
        fn: FunctionNode | None = scope
        while fn is not None:
            if not isinstance(fn, ast.Lambda):
                bodies.append(fn.body)
            fn = self.scopes(source).parent.get(id(fn))
        bodies.append(source.tree.body)
        for body in bodies:
            call = _bound_call(body, name)
            if call is None:
                continue
            factory = self.resolve(source.path, call.func, scope)
            if factory is None:
                return None
            path, made = factory
            if isinstance(made, ast.Lambda):
                return None
            returned = [
                r.value.id
                for r in made.body
                if isinstance(r, ast.Return) and isinstance(r.value, ast.Name)
            ]
            inner = self.scopes(self.by_path[path]).local.get(id(made), {})
            for ret in returned:
                if ret in inner:
                    return path, inner[ret]
            return None
        return None

    def scopes(self, source: Source) -> Scopes:
        """The nested-function scopes of ``source`` (built on first use)."""
        if source.scopes is None:
            source.scopes = Scopes(source.defs)
        return source.scopes

    def enclosing(self, path: str, fn: Def) -> Def | None:
        """The function ``fn`` is defined in, ``None`` at module level."""
        return self.scopes(self.by_path[path]).parent.get(id(fn))

    def object_kind(self, source: Source, name: str) -> str | None:
        found = self.lookup(source, name)
        return found[0].objects.get(found[1]) if found else None

    def caches(self, path: str) -> frozenset[str]:
        source = self.by_path[path]
        names = set(source.objects) | set(source.imports)
        return frozenset(x for x in names if self.object_kind(source, x) in {"Cache", "Cacheward"})

    def flask_session(self, path: str) -> bool:
        return self.by_path[path].flask_session

    def maps(self, path: str) -> frozenset[str]:
        return frozenset(self.by_path[path].maps)

    def find_class(
        self, source: Source, name: str, hops: int = 3
    ) -> tuple[Source, ast.ClassDef] | None:
        """The module-level class the dotted ``name`` in ``source`` refers to (imports
        followed: ``from .models import User``, ``models.User``)."""
        head, _, rest = name.partition(".")
        if not rest:
            for cls in source.classes:
                if cls.name == head and cls in source.tree.body:
                    return source, cls
        if head not in source.imports or hops == 0:
            return None
        mod, attr = source.imports[head]
        if attr is not None and not rest:
            target = self.module(mod)
            return self.find_class(target, attr, hops - 1) if target is not None else None
        module = mod if attr is None else f"{mod}.{attr}"
        if rest and "." not in rest:
            target = self.module(module)
            return self.find_class(target, rest, hops - 1) if target is not None else None
        return None

    def parser(self, path: str, name: str) -> list[tuple[str, tuple[str, ...]]]:
        """The ``add_argument`` calls of the reqparse parser ``name`` (imports followed)."""
        source = self.by_path[path]
        if name in source.parsers:
            return source.parsers[name]
        found = self.lookup(source, name)
        return found[0].parsers.get(found[1], []) if found else []


def _dotted_names(source: Source) -> set[str]:
    """Every dotted suffix of the module's name and of its file path: a directory without
    ``__init__.py`` (a PEP 420 namespace package, common in apps) still imports as
    ``pkg.views.base``, though the package walk names that file ``base``."""
    from_path = [p for p in re.split(r"[\\/]", source.path.removesuffix(".py")) if p]
    if from_path and from_path[-1] == "__init__":
        from_path.pop()
    names: set[str] = set()
    for parts in (source.module.split("."), from_path):
        names.update(".".join(parts[i:]) for i in range(len(parts)))
    return {x for x in names if x and not x.startswith(".")}


def read_source(
    path: str,
    module: str,
    tree: ast.Module,
    is_package: bool,
    text: str | None = None,
    test_code: bool = False,
) -> Source:
    """Index the module-level names of one parsed file.

    :param text: the file's source, when known: lets the walk skip settings it lacks.
    :param test_code: the file is a test or fixture of the scanned project: its cache
        settings never reach production.
    """
    source = Source(path=path, module=module, tree=tree, is_package=is_package, test_code=test_code)
    if text is not None:
        lowered = text.lower()
        words = ("request", "cache", "key", "parse_args")
        source.hints = frozenset(w for w in words if w in lowered)
    proxyfix = text is None or "ProxyFix" in text
    cache_type = (text is None or "CACHE_TYPE" in text) and not test_code
    pickled = not test_code and text is not None and "pickle" in text and "redis" in text.lower()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            source.functions[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Subscript):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    source.aliases[target.id] = node.value
        elif isinstance(node, ast.Import):
            for alias in node.names:
                source.fastapi = source.fastapi or alias.name.split(".")[0] in {
                    "fastapi",
                    "starlette",
                }
                source.imports[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0],
                    None,
                )
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(source, node)
            source.fastapi = source.fastapi or base.split(".")[0] in {"fastapi", "starlette"}
            for alias in node.names:
                source.imports[alias.asname or alias.name] = (base, alias.name)
                if base == "flask" and alias.name == "session":
                    source.flask_session = True
    for item in ast.walk(tree):  # the one walk over the whole file
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            source.defs.append(item)
            continue
        if isinstance(item, ast.ClassDef):
            source.classes.append(item)
            continue
        if isinstance(item, ast.Call):
            called = n.dotted(item.func) or ""
            tail = n.last(called)
            if tail == "add_url_rule":
                source.url_rules.append(item)
            elif tail == "add_argument" and (arg := _parser_argument(item)) is not None:
                source.parsers.setdefault(arg[0], []).append(arg[1:])
            elif proxyfix and tail == "ProxyFix" and (fix := _proxyfix(path, item)):
                source.proxyfixes.append(fix)
            elif pickled and called == "pickle.loads":
                source.cache_types.append(Site(path, item, "redis + pickle.loads"))
        if cache_type and isinstance(item, ast.Dict | ast.Call | ast.Assign | ast.AnnAssign):
            source.cache_types.extend(_cache_types(path, item))
        if isinstance(item, ast.Assign | ast.AnnAssign) and n.is_in_process(item.value):
            targets = item.targets if isinstance(item, ast.Assign) else [item.target]
            source.maps.update(x for t in targets if (x := n.dotted(t)) is not None)
        if isinstance(item, ast.Assign) and isinstance(item.value, ast.Call):
            kind = n.dotted(item.value.func)
            for target in item.targets:
                if isinstance(target, ast.Name) and kind is not None:
                    source.objects[target.id] = n.last(kind)
                    source.calls[target.id] = item.value
    if source.cache_types:
        source.cache_types = _outside_dev_classes(source.cache_types, source.classes)
    return source


def _parser_argument(node: ast.Call) -> tuple[str, str, tuple[str, ...]] | None:
    """``parser.add_argument("apikey", location="headers")`` (flask-restful/restx reqparse):
    the receiver, the argument and where it is read from (reqparse's default: the JSON body
    and ``request.values``)."""
    func = node.func
    if not isinstance(func, ast.Attribute) or func.attr != "add_argument" or not node.args:
        return None
    owner, name = n.dotted(func.value), n.const_str(node.args[0])
    if owner is None or name is None:
        return None
    where = n.keyword(node, "location")
    if where is None:
        return owner, name, ("json", "values")
    if isinstance(where, ast.List | ast.Tuple):
        return owner, name, tuple(x for e in where.elts if (x := n.const_str(e)) is not None)
    return owner, name, (n.const_str(where) or "values",)


#: Config classes whose settings never reach production.
_DEV_CLASS = re.compile(r"(dev|develop|development|test|testing|local|debug)", re.IGNORECASE)


def is_test_path(path: str) -> bool:
    """Test code and fixtures: ``tests/``, ``test_*.py``, ``conftest.py``."""
    parts = path.replace("\\", "/").split("/")
    name = parts[-1]
    return (
        any(p in {"tests", "test", "testing", "fixtures"} for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def _outside_dev_classes(sites: list[Site], classes: list[ast.ClassDef]) -> list[Site]:
    """Drop settings written in ``DevelopmentConfig``-like classes."""
    spans = [(c.lineno, c.end_lineno or c.lineno) for c in classes if _DEV_CLASS.search(c.name)]
    return [s for s in sites if not any(a <= s.line <= b for a, b in spans)]


def _absolute(source: Source, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    parts = source.module.split(".")
    if not source.is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
    return ".".join([*parts, *([node.module] if node.module else [])])


def _proxyfix(path: str, node: ast.Call) -> Site | None:
    """A ``ProxyFix(...)`` call, with its ``x_host`` (``?`` when not a constant)."""
    if n.last(n.dotted(node.func) or "") != "ProxyFix":
        return None
    x_host = n.keyword(node, "x_host")
    if x_host is None and len(node.args) > 5:
        x_host = node.args[5]
    value = n.const_int(x_host) if x_host is not None else 0
    return Site(path, node, "?" if value is None else str(value))


def _cache_types(path: str, node: ast.AST) -> Iterator[Site]:
    """``CACHE_TYPE`` settings in ``node`` naming a shared, pickling Flask-Caching backend."""
    pairs: list[tuple[str | None, ast.AST | None]] = []
    if isinstance(node, ast.Dict):
        pairs = [(n.const_str(k), v) for k, v in zip(node.keys, node.values, strict=False)]
    elif isinstance(node, ast.Call):
        pairs = [(kw.arg, kw.value) for kw in node.keywords]
    elif isinstance(node, ast.AnnAssign):
        if isinstance(node.target, ast.Name):
            pairs.append((node.target.id, node.value))
    elif isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Name):
                pairs.append((target.id, node.value))
            elif isinstance(target, ast.Subscript):
                pairs.append((n.const_str(target.slice), node.value))
    for key, value in pairs:
        text = n.const_str(value)
        if key == "CACHE_TYPE" and text is not None and value is not None:
            if n.last(text).lower() in n.SHARED_CACHE_TYPES:
                yield Site(path, value, text)


def _bound_call(body: list[ast.stmt], name: str) -> ast.Call | None:
    """The call ``name`` is bound to by a plain ``name = f(...)`` in ``body``."""
    for stmt in body:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and stmt.targets[0].id == name
            and isinstance(stmt.value, ast.Call)
        ):
            return stmt.value
    return None
