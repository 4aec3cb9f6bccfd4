"""Functions nested in functions: which name a bare reference in a function body means."""

from __future__ import annotations

import ast
from collections.abc import Sequence

from .flow import FunctionNode

Def = ast.FunctionDef | ast.AsyncFunctionDef


class Scopes:
    """Functions defined inside other functions: ``parent`` and per-function ``local`` names.

    Views, decorators and helpers defined inside an app factory (``def create_app():``)
    refer to each other by bare name; a name is looked up from the innermost function
    outwards, as Python does (assignments that rebind a name are not tracked).
    """

    def __init__(self, defs: Sequence[Def]) -> None:
        self.parent: dict[int, Def] = {}
        self.local: dict[int, dict[str, Def]] = {}
        for fn in _enclosing(defs):
            stack: list[ast.AST] = list(fn.body)
            while stack:
                node = stack.pop()
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    self.parent[id(node)] = fn
                    self.local.setdefault(id(fn), {}).setdefault(node.name, node)
                    continue  # its own body belongs to its own scope
                if isinstance(node, ast.Lambda | ast.ClassDef):
                    continue
                stack.extend(ast.iter_child_nodes(node))

    def lookup(self, scope: FunctionNode, name: str) -> Def | None:
        fn: FunctionNode | None = scope
        while fn is not None:
            found = self.local.get(id(fn), {}).get(name)
            if found is not None:
                return found
            fn = self.parent.get(id(fn))
        return None


def _enclosing(defs: Sequence[Def]) -> list[Def]:
    """The functions whose line span holds another function: only those can have local
    functions, so only their bodies are walked (most functions have none)."""
    ordered = sorted(defs, key=lambda f: (f.lineno, -(f.end_lineno or f.lineno)))
    outer: dict[int, Def] = {}
    open_: list[Def] = []
    for fn in ordered:
        while open_ and (open_[-1].end_lineno or open_[-1].lineno) < fn.lineno:
            open_.pop()
        if open_:
            outer[id(open_[-1])] = open_[-1]
        open_.append(fn)
    return list(outer.values())
