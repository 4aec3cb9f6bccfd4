"""One parsed file of the scanned tree, and places in it.

:class:`Source` is what :func:`~.reader.read_source` indexes of a file (its module-level
names, imports, settings and calls); :class:`Site` is a place in a file with what was found
there. Nothing here reads or resolves anything.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .scope import Scopes

Def = ast.FunctionDef | ast.AsyncFunctionDef


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
    #: ``X.include_router(...)`` calls (FastAPI routers mounted on an app or a router)
    includes: list[ast.Call] = field(default_factory=list)
    classes: list[ast.ClassDef] = field(default_factory=list)
    #: names (and ``self.x`` attributes) bound to in-process containers anywhere in the file
    maps: set[str] = field(default_factory=set)
    #: reqparse parsers: receiver name to ``(argument, locations)`` of its ``add_argument``
    parsers: dict[str, list[tuple[str, tuple[str, ...]]]] = field(default_factory=dict)
    #: module-level name to the call that builds it (``APIKeyHeader(name="X-API-Key")``)
    calls: dict[str, ast.Call] = field(default_factory=dict)
    #: module-level type aliases (``CurrentUser = Annotated[User, Depends(get_user)]``)
    aliases: dict[str, ast.Subscript] = field(default_factory=dict)
    #: module-level lists and tuples (``PROTECTED = [Depends(get_current_user)]``)
    lists: dict[str, ast.List | ast.Tuple] = field(default_factory=dict)
    #: the file imports FastAPI or Starlette
    fastapi: bool = False
    #: a test or fixture of the scanned project: its views and functions are not reported
    test_code: bool = False
    #: words the file's text holds (``request``, ``cache``, ``key``): a rule that looks
    #: for what a function itself does skips files that cannot hold it
    hints: frozenset[str] = frozenset({"request", "cache", "key", "parse_args"})

    def binds(self, name: str) -> bool:
        """Whether the module defines ``name`` (a function, an object, an alias or a list)."""
        return (
            name in self.functions
            or name in self.objects
            or name in self.aliases
            or name in self.lists
        )
