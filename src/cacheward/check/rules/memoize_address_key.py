"""``memoize-address-key``: ``@cache.memoize`` on a method keys on the object's address."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from .. import names as n
from ..model import AppModel
from ..registry import Issue, rule

#: Methods that give Flask-Caching a stable identity for ``self``.
_IDENTITY_METHODS = frozenset({"__repr__", "__caching_id__"})
#: Bases known to define a ``__repr__`` naming the row (Flask-SQLAlchemy's ``db.Model``).
_REPR_BASES = frozenset({"Model"})


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
    ``__repr__`` naming the primary key and are not reported; bases defined in the scanned
    file are followed.

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
    for source in model.sources:
        local = {c.name: c for c in source.classes}
        for cls in source.classes:
            if _has_identity(cls, local):
                continue
            for stmt in cls.body:
                if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                if not stmt.args.args or stmt.args.args[0].arg != "self":
                    continue
                if not _uses_state(stmt, cls):
                    continue  # same value for every instance: a reused address is harmless
                for node in stmt.decorator_list:
                    if _is_memoize(node):
                        yield Issue(source.path, node, {"class": cls.name, "method": stmt.name})


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
