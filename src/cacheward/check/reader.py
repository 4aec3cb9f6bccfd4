"""Reading one parsed file: its module-level names, imports and the settings it holds.

One walk over the file's tree fills a :class:`~.source.Source`: functions, classes,
imports, module-level objects and aliases, ``add_url_rule`` calls, reqparse arguments,
in-process containers, ``ProxyFix`` and ``CACHE_TYPE`` settings.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from . import names as n
from .source import Site, Source


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
    for node in tree.body:
        _read_statement(source, node)
    _Walk(source, text).run()
    if source.cache_types:
        source.cache_types = _outside_dev_classes(source.cache_types, source.classes)
    return source


def _read_statement(source: Source, node: ast.stmt) -> None:
    """A module-level function, alias (``X = Annotated[...]``), list or import."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        source.functions[node.name] = node
    elif isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Subscript):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                source.aliases[target.id] = node.value
    elif isinstance(node, ast.Assign) and isinstance(node.value, ast.List | ast.Tuple):
        for target in node.targets:
            if isinstance(target, ast.Name):
                source.lists[target.id] = node.value
    elif isinstance(node, ast.Import):
        for alias in node.names:
            source.fastapi = source.fastapi or alias.name.split(".")[0] in _ASGI
            source.imports[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0],
                None,
            )
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(source, node)
        source.fastapi = source.fastapi or base.split(".")[0] in _ASGI
        for alias in node.names:
            source.imports[alias.asname or alias.name] = (base, alias.name)
            if base == "flask" and alias.name == "session":
                source.flask_session = True


#: Top-level packages whose import makes a file FastAPI code.
_ASGI = frozenset({"fastapi", "starlette"})


class _Walk:
    """The one walk over the whole file: nested functions, classes, calls and settings."""

    def __init__(self, source: Source, text: str | None) -> None:
        self.source = source
        test_code = source.test_code
        self.proxyfix = text is None or "ProxyFix" in text
        self.cache_type = (text is None or "CACHE_TYPE" in text) and not test_code
        self.pickled = (
            not test_code and text is not None and "pickle" in text and "redis" in text.lower()
        )

    def run(self) -> None:
        source = self.source
        for item in ast.walk(source.tree):
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                source.defs.append(item)
                continue
            if isinstance(item, ast.ClassDef):
                source.classes.append(item)
                continue
            if isinstance(item, ast.Call):
                self.call(item)
            if self.cache_type and isinstance(
                item, ast.Dict | ast.Call | ast.Assign | ast.AnnAssign
            ):
                source.cache_types.extend(_cache_types(source.path, item))
            if isinstance(item, ast.Assign | ast.AnnAssign) and n.is_in_process(item.value):
                targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                source.maps.update(x for t in targets if (x := n.dotted(t)) is not None)
            if isinstance(item, ast.Assign) and isinstance(item.value, ast.Call):
                kind = n.dotted(item.value.func)
                for target in item.targets:
                    if isinstance(target, ast.Name) and kind is not None:
                        source.objects[target.id] = n.last(kind)
                        source.calls[target.id] = item.value

    def call(self, item: ast.Call) -> None:
        """``add_url_rule``, ``include_router``, reqparse ``add_argument``, ``ProxyFix`` and
        ``pickle.loads``."""
        source = self.source
        called = n.dotted(item.func) or ""
        tail = n.last(called)
        if tail == "add_url_rule":
            source.url_rules.append(item)
        elif tail == "include_router":
            source.includes.append(item)
        elif tail == "add_argument" and (arg := _parser_argument(item)) is not None:
            source.parsers.setdefault(arg[0], []).append(arg[1:])
        elif self.proxyfix and tail == "ProxyFix" and (fix := _proxyfix(source.path, item)):
            source.proxyfixes.append(fix)
        elif self.pickled and called == "pickle.loads":
            source.cache_types.append(Site(source.path, item, "redis + pickle.loads"))


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
