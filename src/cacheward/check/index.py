"""Name resolution across the scanned tree: modules, imports, classes and functions.

:class:`Index` is the :class:`~.flow.Resolver` the analyzer follows calls with, and what
the builder resolves decorators, dependencies and objects through. Nothing is imported.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from . import names as n
from .flow import FunctionNode
from .scope import Scopes
from .source import Def, Source


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
