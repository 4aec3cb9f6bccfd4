"""``memoize-address-key``: ``@cache.memoize`` on a method keys on the object's address."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from .. import names as n
from ..index import Index
from ..model import AppModel, CacheFlavor, Dependency
from ..registry import Issue, rule
from ..source import Source

#: Methods that give Flask-Caching a stable identity for ``self``.
_IDENTITY_METHODS = frozenset({"__repr__", "__caching_id__"})
#: Bases known to define a ``__repr__`` naming the value: Flask-SQLAlchemy's ``db.Model``
#: (the primary key), pydantic and SQLModel models, named tuples, enums (their fields).
_REPR_BASES = frozenset(
    {"Model", "BaseModel", "SQLModel", "NamedTuple", "TypedDict", "Enum", "str", "int", "dict"}
)


@rule(
    "memoize-address-key",
    Severity.HIGH,
    Confidence.MEDIUM,
    cwe=524,
    title="@cache.memoize on a method of a class without __repr__ or __caching_id__",
    fix="Give the class a __caching_id__ (or __repr__) that returns a stable id such as the"
    " primary key, or memoize a function of that id instead of a method.",
)
def memoize_address_key(model: AppModel) -> Iterator[Issue]:
    """Flask-Caching's ``memoize`` keys a method call on ``repr(self)``.

    Without ``__repr__`` or ``__caching_id__`` that is ``<User object at 0x7f...>``: a
    memory address. CPython reuses addresses once an object is freed, so the next request's
    object for *another* user can get the same key, and is served the first user's value.
    A method whose result does not depend on the instance (it reads no ``self``
    attribute, or only calls methods that read none) gives every instance the same value
    and is not reported. Classes whose base is Flask-SQLAlchemy's ``db.Model`` have a
    ``__repr__`` naming the primary key and are not reported (nor pydantic models, named
    tuples, enums and dataclasses, whose ``repr`` shows their fields); bases defined in
    the scanned file are followed.

    FastAPI: fastapi-cache2's default key holds ``repr()`` of each argument of the
    endpoint, so a ``Depends(get_current_user)`` parameter whose class (its annotation,
    or the dependency's return annotation) has no ``__repr__`` -- a plain SQLAlchemy
    ``DeclarativeBase`` row -- keys the entry on an address too; reported at the
    ``Depends``.

    Vulnerable::

        class Account:
            def __init__(self, user_id):
                self.user_id = user_id

            @cache.memoize(60)
            def balance(self):
                return load_balance(self.user_id)

    Fixed::

        class Account:
            def __caching_id__(self):
                return f"account:{self.user_id}"

            @cache.memoize(60)
            def balance(self): ...
    """
    yield from _fastapi_dependencies(model)
    for source in model.sources:
        local = {c.name: c for c in source.classes}
        for cls in source.classes:
            if not any(
                isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)
                and any(_is_memoize(d) for d in m.decorator_list)
                for m in cls.body
            ):
                continue
            if _has_identity(cls, local):
                continue
            for stmt in cls.body:
                if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                if not stmt.args.args or stmt.args.args[0].arg != "self":
                    continue
                memoized = [d for d in stmt.decorator_list if _is_memoize(d)]
                if not memoized or not _uses_state(stmt, cls):
                    continue  # same value for every instance: a reused address is harmless
                for node in memoized:
                    yield Issue(source.path, node, {"class": cls.name, "method": stmt.name})


def _fastapi_dependencies(model: AppModel) -> Iterator[Issue]:
    """fastapi-cache's default key holds ``repr()`` of each argument: a dependency that
    returns an object of a class without ``__repr__`` (a SQLAlchemy ``DeclarativeBase``
    row) puts its address in the key."""
    index = model.analyzer.resolver
    if not isinstance(index, Index):
        return
    for view in model.views:
        cache = view.cache
        if cache is None or cache.flavor is not CacheFlavor.FASTAPI_CACHE:
            continue
        if not view.covers("params"):
            continue
        for dep in view.dependencies:
            found = _value_class(index, view.source, dep)
            if found is None:
                continue
            home, cls = found
            if _has_identity(cls, {c.name: c for c in home.classes}):
                continue
            yield Issue(
                view.source.path,
                dep.site,
                {"view": view.func.name, "parameter": dep.name, "class": cls.name},
            )


def _value_class(
    index: Index, source: Source, dep: Dependency
) -> tuple[Source, ast.ClassDef] | None:
    """The class of the value a dependency passes: the parameter's annotation, else the
    dependency function's return annotation."""
    candidates: list[tuple[Source, ast.expr | None]] = [(source, dep.annotation)]
    if dep.target is not None and not isinstance(dep.target[1], ast.Lambda):
        candidates.append((index.by_path[dep.target[0]], dep.target[1].returns))
    for where, ann in candidates:
        name = n.dotted(ann) if ann is not None else None
        if name is not None:
            found = index.find_class(where, name)
            if found is not None:
                return found
    return None


def _is_memoize(node: ast.expr) -> bool:
    """A Flask-Caching ``<cache>.memoize`` decorator (cacheward's ``ward`` has none)."""
    func = node.func if isinstance(node, ast.Call) else node
    name = n.dotted(func) or ""
    return n.last(name) == "memoize" and "." in name and n.last(name.rsplit(".", 1)[0]) != "ward"


def _self_attrs(fn: ast.AST) -> set[str]:
    """Attributes read from ``self`` in ``fn``."""
    return {
        node.attr
        for node in ast.walk(fn)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }


def _uses_state(method: ast.AST, cls: ast.ClassDef) -> bool:
    """Whether ``method`` reads instance state, directly or through sibling methods."""
    methods = {m.name: m for m in cls.body if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)}
    seen: set[str] = set()
    stack = [method]
    while stack:
        for attr in _self_attrs(stack.pop()):
            if attr not in methods:
                return True  # a field, or one inherited from a base we cannot see
            if attr not in seen:
                seen.add(attr)
                stack.append(methods[attr])
    return False


def _defines(cls: ast.ClassDef) -> set[str]:
    """Names the class body binds (methods and assignments)."""
    names: set[str] = set()
    for stmt in cls.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            names.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
    return names


def _has_identity(cls: ast.ClassDef, local: dict[str, ast.ClassDef]) -> bool:
    """A ``__repr__``/``__caching_id__`` on the class, a local base, ``db.Model`` or
    ``@dataclass`` (which writes a ``__repr__``)."""
    seen: set[str] = set()
    stack = [cls]
    while stack:
        current = stack.pop()
        if _defines(current) & _IDENTITY_METHODS:
            return True
        for d in current.decorator_list:
            if n.last(n.dotted(d.func if isinstance(d, ast.Call) else d) or "") == "dataclass":
                return True
        for base in current.bases:
            name = n.last(n.dotted(base) or "")
            if name in _REPR_BASES:
                return True
            if name in local and name not in seen:
                seen.add(name)
                stack.append(local[name])
    return False
