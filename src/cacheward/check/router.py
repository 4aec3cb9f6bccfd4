"""FastAPI routers: the ways a route is reached, with the path prefix and dependencies of each.

``app.include_router(router, prefix="/v1", dependencies=[Depends(auth)])`` mounts every
route of ``router`` under ``/v1`` and runs ``auth`` before each of them, after the app's
own ``FastAPI(dependencies=[...])``; ``APIRouter(prefix=..., dependencies=[...])`` adds
its own, and a router included into another router is mounted wherever that one is
(FastAPI copies the routes, with the prefixes and dependencies so far, on each
``include_router``). Routers are followed across modules (``from .routers import items``
then ``app.include_router(items.router)``) and into the factory that makes them
(``router = create_router(...)``, whose ``return router`` is where the routes are
declared). A router included more than once is reached in each of those ways. A prefix
that is not a string constant counts as ``""``.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass

from . import names as n
from .effect import Effect, EffectKind
from .fastapi import Params
from .index import Index
from .model import Decorator
from .source import Def, Source

#: A ``dependencies=[...]`` list, with the file whose names it uses.
Gate = tuple[Source, ast.expr]
_Key = tuple[str, str]


@dataclass(frozen=True)
class Mount:
    """One way to reach the routes of an app or router: the path prefix in front of them
    and the ``dependencies=`` lists run before them, outermost first."""

    prefix: str = ""
    gates: tuple[Gate, ...] = ()

    def under(self, outer: Mount) -> Mount:
        """This mount, reached through ``outer``."""
        return Mount(outer.prefix + self.prefix, outer.gates + self.gates)


_ROOT = (Mount(),)
_CALLER_READS = frozenset({EffectKind.CREDENTIAL, EffectKind.IDENTITY, EffectKind.QUERY_CREDENTIAL})


@dataclass(frozen=True)
class Reached:
    """How FastAPI reaches an endpoint.

    :param routes: its full paths, prefixes included (``{x}`` there is a path parameter).
    :param gates: what the ``dependencies=[...]`` lists on every way to it read and check.
    :param guarded: every way to it runs a dependency that checks the caller and denies.
    """

    routes: tuple[str, ...]
    gates: tuple[Effect, ...]
    guarded: bool


class Routers:
    """Every ``include_router`` call of the scanned tree, by the router it includes."""

    def __init__(self, index: Index, params: Params, sources: Sequence[Source]) -> None:
        self.index = index
        self.params = params
        self._reads: dict[tuple[int, int], tuple[Effect, ...]] = {}
        self._included: dict[_Key, list[tuple[Source, ast.Call]]] = {}
        self._memo: dict[_Key, tuple[Mount, ...]] = {}
        self._active: set[_Key] = set()
        for source in sources:
            if source.test_code:
                continue
            for call in source.includes:
                target = call.args[0] if call.args else n.keyword(call, "router")
                found = self._find(source, n.dotted(target) if target is not None else None)
                for key in self._keys(found) if found is not None else ():
                    self._included.setdefault(key, []).append((source, call))

    def reach(self, source: Source, fn: Def, routes: Sequence[Decorator]) -> Reached:
        """The paths of the endpoint ``fn`` under its route decorators ``routes``, and what
        runs before it on each way there (the route's own ``dependencies=`` innermost)."""
        paths: list[str] = []
        gates: list[Effect] = []
        guarded = bool(routes)
        for d in routes:
            if d.call is None:
                continue
            text = route_path(d)
            own = Mount("", _gates(source, d.call))
            for mount in self.mounts(source, d.name.rsplit(".", 1)[0]):
                way = own.under(mount)
                if text is not None:
                    paths.append(way.prefix + text)
                reads = [e for gate in way.gates for e in self.gate_reads(gate, source, fn)]
                gates.extend(reads)
                kinds = {e.kind for e in reads}
                guarded = guarded and EffectKind.AUTH_CHECK in kinds and bool(kinds & _CALLER_READS)
        return Reached(tuple(dict.fromkeys(paths)), tuple(dict.fromkeys(gates)), guarded)

    def gate_reads(self, gate: Gate, source: Source, fn: Def) -> tuple[Effect, ...]:
        """What one ``dependencies=`` list reads (names in ``source``, the endpoint's file,
        are resolved in the scope of ``fn``)."""
        home, listed = gate
        scope = fn if home is source else None
        key = (id(listed), id(scope))
        if key not in self._reads:
            self._reads[key] = self.params.gate_reads(home, [listed], scope)
        return self._reads[key]

    def _keys(self, found: tuple[Source, str]) -> list[_Key]:
        """The router ``found`` names and, when it is made by a factory in the tree
        (``router = create_router("/users")``), the router that factory returns."""
        keys = [_key(found)]
        built = found[0].calls.get(found[1])
        made = self.index.resolve(found[0].path, built.func) if built is not None else None
        if made is not None and not isinstance(made[1], ast.Lambda):
            keys.extend(
                (made[0], stmt.value.id)
                for stmt in made[1].body
                if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Name)
            )
        return keys

    def mounts(self, source: Source, owner: str) -> tuple[Mount, ...]:
        """The ways to reach a route on ``owner`` (the app or router named in ``source``)."""
        found = self._find(source, owner)
        return _ROOT if found is None else self._mounts(found)

    def _find(self, source: Source, name: str | None) -> tuple[Source, str] | None:
        return self.index.lookup(source, name) if name else None

    def _mounts(self, found: tuple[Source, str]) -> tuple[Mount, ...]:
        key = _key(found)
        if key in self._memo:
            return self._memo[key]
        own = _own(*found)
        if key in self._active:  # a router included into itself, through others
            return (own,)
        self._active.add(key)
        try:
            out: list[Mount] = []
            for parent, call in self._included.get(key, []):
                step = Mount(n.const_str(n.keyword(call, "prefix")) or "", _gates(parent, call))
                owner = n.dotted(call.func.value) if isinstance(call.func, ast.Attribute) else None
                where = self._find(parent, owner)
                outers = self._mounts(where) if where is not None else _ROOT
                out.extend(own.under(step.under(outer)) for outer in outers)
        finally:
            self._active.discard(key)
        result = tuple(out) or (own,)
        self._memo[key] = result
        return result


def route_path(route: Decorator) -> str | None:
    """The path a route decorator names (``@app.get("/x")``, ``rule=``, ``path=``)."""
    call = route.call
    if call is None:
        return None
    rule = call.args[0] if call.args else None
    return n.const_str(rule or n.keyword(call, "rule") or n.keyword(call, "path"))


def _key(found: tuple[Source, str]) -> _Key:
    return found[0].path, found[1]


def _gates(source: Source, call: ast.Call) -> tuple[Gate, ...]:
    listed = n.keyword(call, "dependencies")
    return ((source, listed),) if listed is not None else ()


def _own(source: Source, name: str) -> Mount:
    """The prefix and dependencies of the ``APIRouter(...)``/``FastAPI(...)`` call that
    builds ``name`` in ``source`` (none when it is not built by a call there)."""
    built = source.calls.get(name)
    if built is None:
        return Mount()
    return Mount(n.const_str(n.keyword(built, "prefix")) or "", _gates(source, built))
