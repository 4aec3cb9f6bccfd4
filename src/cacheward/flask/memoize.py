"""``ward.memoize``: function results keyed by the function and its canonical arguments.

The key is the function's qualified name, the canonical form of its bound arguments
(:mod:`cacheward.core.canonical`: an argument with no stable form is refused, never keyed
by ``repr``), and the scope: the current principal's (default), its tenant's, or shared.

**Tracking.** A memoized result is only right for every later call if it depends on
nothing but what its key holds. So a miss runs the function under its own recorder (a
layer over the request's own, if one is recording): if it read any request input (a
header, the query, the host, the client address, a value already on ``flask.g``, the
principal of a tenant or shared memo...), the result is returned but not stored, and in
strict mode :class:`~cacheward.errors.UnkeyedInputError` says what to pass as an argument
instead. And the request that calls it: a principal- or tenant-scoped result counts as a
read of the principal (or tenant) of that request, hit or miss, so a shared response
built from it is never stored (a hit cannot hide what the function read).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from flask import current_app, has_app_context

from ..core.cachekey import CacheKey
from ..core.canonical import build_value_key, canonical
from ..core.inputs import Kind, Read, describe
from ..core.policy import Scope, route_scope
from ..core.principal import Principal
from ..errors import ConfigurationError, UnkeyableArgument, UnkeyedInputError, UnstorableValue
from .context import app_context_of, request_context_or_none, state_of
from .recorder import Recorder, current_recorder
from .route import PrincipalSource, as_principal
from .state import State
from .tracked_request import TrackedG, TrackedRequest
from .tracking import Swap
from .valuestore import load, note_scope_read, parse_ttl, save, scope_token

#: Attribute of a memoized wrapper that holds its :class:`Memoized`.
MEMO_MARK = "__cacheward_memo__"

_LOCAL = "\0memo:"
#: The reads a memoized result's key covers, by scope.
_KEYED: dict[Scope, frozenset[Kind]] = {
    Scope.PRINCIPAL: frozenset({Kind.PRINCIPAL, Kind.CREDENTIAL, Kind.TENANT}),
    Scope.TENANT: frozenset({Kind.TENANT}),
    Scope.SHARED: frozenset(),
}


@dataclass(frozen=True, eq=False)
class Memoized:
    """The settings of one memoized function."""

    name: str
    func: Callable[..., Any]
    signature: inspect.Signature
    scope: Scope
    ttl: float | None
    principal: PrincipalSource | None

    @property
    def tag(self) -> str:
        """The tag all its entries carry (``delete_memoized(func)`` purges it)."""
        return "cw-memo:" + self.name


def memoize(
    ttl: float | None,
    scope: Scope | str,
    principal: PrincipalSource | None,
    name: str | None,
    source_check: bool,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The decorator behind :meth:`Cacheward.memoize`."""
    parsed_scope = route_scope(scope)
    parsed_ttl = parse_ttl(ttl)

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(func):
            raise ConfigurationError(f"{func.__qualname__}: ward.memoize takes plain functions")
        memo = Memoized(
            _name_of(func, name, source_check),
            func,
            inspect.signature(func),
            parsed_scope,
            parsed_ttl,
            principal,
        )

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return call(memo, args, kwargs)

        setattr(wrapper, MEMO_MARK, memo)
        wrapper.uncached = func  # type: ignore[attr-defined]
        return wrapper

    return decorator


def _name_of(func: Callable[..., Any], name: str | None, source_check: bool) -> str:
    if name is not None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"memoize(name=...) takes a non-empty string, not {name!r}")
        found = name
    else:
        qualname = getattr(func, "__qualname__", "")
        if not qualname or "<lambda>" in qualname:
            raise ConfigurationError(
                f"{qualname or func!r}: a lambda has no name of its own to key its results"
                " by; give it ward.memoize(name='...')"
            )
        found = f"{func.__module__}.{qualname}"
    if source_check:
        try:
            source = inspect.getsource(func)
        except (OSError, TypeError):
            raise ConfigurationError(f"{found}: source_check=True but no source found") from None
        found += "#" + hashlib.blake2b(source.encode(), digest_size=8).hexdigest()
    return found


def memoized_of(func: object) -> Memoized:
    found = getattr(func, MEMO_MARK, None)
    if not isinstance(found, Memoized):
        raise ConfigurationError(f"{func!r} is not a function decorated with @ward.memoize")
    return found


def _state() -> State:
    if not has_app_context():
        raise ConfigurationError(
            "a @ward.memoize function was called outside an application context"
        )
    try:
        return current_app.extensions["cacheward"]  # type: ignore[no-any-return]
    except KeyError:
        raise ConfigurationError("Cacheward.init_app(app) has not run for this app") from None


def _principal(memo: Memoized) -> Principal | None:
    ctx = request_context_or_none()
    rs = None if ctx is None else state_of(ctx)
    found = None if rs is None else rs.principal
    if found is None and memo.principal is not None:
        found = as_principal(memo.principal())
    return found


def arguments_of(memo: Memoized, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """The canonical form of a call's bound arguments (defaults applied, so ``f(1)`` and
    ``f(x=1)`` are one call).

    :raises TypeError: the arguments do not fit the function's signature.
    :raises UnkeyableArgument: an argument has no canonical form.
    """
    bound = memo.signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return canonical(tuple(bound.arguments.items()), f"memoize({memo.name})")


def key_for(state: State, memo: Memoized, payload: bytes, who: Principal | None) -> CacheKey:
    """The key of a call with canonical arguments ``payload`` for ``who``."""
    parts: tuple[tuple[str, str], ...] = ()
    if memo.scope is Scope.PRINCIPAL and who is not None:
        parts = (("tenant", "\0none" if who.tenant is None else who.tenant),)
    token = scope_token(state, memo.scope, who)
    return build_value_key(
        state.namespace, "memo", state.app_name, memo.name, payload, token, parts
    )


def call(memo: Memoized, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call a memoized function: its stored result, or run it (and store it if it may)."""
    state = _state()
    try:
        payload = arguments_of(memo, args, kwargs)  # refused whether cached or not
    except UnkeyableArgument:
        raise
    except TypeError:
        return memo.func(*args, **kwargs)  # let the function raise its own TypeError
    if not state.enabled:
        return memo.func(*args, **kwargs)
    who = None
    if memo.scope is not Scope.SHARED:
        who = _principal(memo)
        if who is None:
            state.warn_once(
                memo.name,
                "memo:principal",
                f"cacheward: {memo.name} is memoized with scope={memo.scope.value!r} but was"
                " called with no principal: not cached. Call it in a protected request, pass"
                " principal= to ward.memoize, or use scope='shared'",
            )
            return memo.func(*args, **kwargs)
    key = key_for(state, memo, payload, who)
    ttl = memo.ttl if memo.ttl is not None else state.default_ttl
    tags = (memo.tag,)
    try:
        (hit, value), found = load(state, key, tags)
    except Exception as e:  # noqa: BLE001 - any backend failure means "no cache"
        state.backend_failed(e)
        note_scope_read(memo.scope)
        return memo.func(*args, **kwargs)
    note_scope_read(memo.scope)
    if hit:
        return value
    with recording(state) as rec:
        result = memo.func(*args, **kwargs)
    unkeyed = sorted(
        (r for r in rec.reads if r[0] not in _KEYED[memo.scope]), key=lambda r: (r[0].value, r[1])
    )
    if unkeyed:
        _refuse(state, memo, unkeyed[0])
        return result
    try:
        save(state, key, result, ttl, tags, found.generation, f"memoize({memo.name})")
    except UnstorableValue:
        if state.strict:
            raise
        state.warn_once(
            memo.name,
            "memo:value",
            f"cacheward: {memo.name} returned a {type(result).__name__}, which the cache"
            " cannot store without pickle: not cached",
        )
    except Exception as e:  # noqa: BLE001 - any backend failure means "not stored"
        state.backend_failed(e)
    return result


def _refuse(state: State, memo: Memoized, read: Read) -> None:
    fix = "pass what it needs as arguments (they are in its key)"
    if read[0] in (Kind.PRINCIPAL, Kind.TENANT):
        fix = f"use scope='{read[0].value}', or pass it as an argument"
    state.warn_once(
        memo.name,
        f"memo:{read[0].value}:{read[1]}",
        f"cacheward: not storing the result of {memo.name}: it read {describe(read)},"
        f" which is not in its key; {fix}",
    )
    if state.strict:
        raise UnkeyedInputError(f"memoized {memo.name}", describe(read), fix)


def delete(
    state: State,
    memo: Memoized,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    who: Principal | None,
    exact: bool = False,
) -> None:
    """Delete one result (arguments given, or ``exact``) or, with none, every result of
    ``memo`` (of every principal: a tag purge)."""
    if not args and not kwargs and not exact:
        state.backend.purge(tag=memo.tag)
        return
    if memo.scope is not Scope.SHARED and who is None:
        raise ConfigurationError(
            f"delete_memoized({memo.name}, ...): it is memoized with"
            f" scope={memo.scope.value!r}, so say whose result: call it in the principal's"
            " request, or use ward.delete_memoized_for(principal, func, ...)"
        )
    state.backend.delete(key_for(state, memo, arguments_of(memo, args, kwargs), who))


def principal_for_delete(memo: Memoized) -> Principal | None:
    return None if memo.scope is Scope.SHARED else _principal(memo)


# -- recording a miss -------------------------------------------------------------------


class MemoRecorder(Recorder):
    """The reads of one memoized call. Each is passed on to the request's own recorder
    (so the response that called it counts them too); the ones only a memo cannot key
    (the scheme, the script root, values on ``g`` from before the call) stay here."""

    __slots__ = ("parent",)

    def __init__(
        self, credential_headers: Iterable[str], environ: Any, parent: Recorder | None
    ) -> None:
        super().__init__(credential_headers, environ)
        self.parent = parent
        # The request's scheme and script root are keyed for a response but not for a
        # memo: their reads, noted as reads of these pseudo headers, stay here.
        for part in ("scheme", "prefix"):
            self.rewrites.setdefault(part, _LOCAL + part)

    def add(self, kind: Kind, name: str = "") -> None:
        if kind is Kind.HEADER and name.startswith(_LOCAL):
            self.local(f"the request {name[len(_LOCAL) :]}")
            return
        self.reads.add((kind, name))
        if self.parent is not None:
            self.parent.add(kind, name)

    def unknown(self, what: str) -> None:
        self.add(Kind.UNKNOWN, what)

    def local(self, what: str) -> None:
        self.reads.add((Kind.UNKNOWN, what))


class MemoG(TrackedG):
    """``flask.g`` during a memoized call: a value already on it is an input the memo's
    key does not hold (it may come from a header, the session, the principal)."""

    __slots__ = ()

    def _read(self, name: object) -> None:
        if name in self._before:
            cast(MemoRecorder, self._rec).local(f"flask.g.{name}")

    def _all(self) -> Any:
        if self._before:
            cast(MemoRecorder, self._rec).local("flask.g")
        return self._g


@contextmanager
def recording(state: State) -> Iterator[MemoRecorder]:
    """Record what the code in the ``with`` block reads, as a layer over the request's
    own recording (or alone)."""
    ctx = request_context_or_none()
    if ctx is None:
        rec = MemoRecorder((), {}, None)
        with _g_tracked(rec, None), _current(rec):
            yield rec
        return
    rs = state_of(ctx)
    # The recorder in force: the request's, or the calling memo's (which passes it on),
    # so that a memo called by a memo counts for both.
    parent = current_recorder.get()
    real = _unwrapped(ctx.request if rs is None else rs.real_request(ctx))
    route = None if rs is None else rs.route
    rec = MemoRecorder(state.credential_headers_of(route), real.environ, parent)
    layer = Swap(ctx, rec)
    try:
        with _g_tracked(rec, ctx):
            yield rec
    finally:
        layer.undo()


def _unwrapped(req: Any) -> Any:
    """The request itself under any recording layers (reading through them is a read)."""
    while type(req) is TrackedRequest:
        req = object.__getattribute__(req, "_req")
    return req


@contextmanager
def _g_tracked(rec: MemoRecorder, ctx: Any) -> Iterator[None]:
    from flask.globals import _cv_app

    app_ctx = app_context_of(ctx) if ctx is not None else _cv_app.get(None)
    if app_ctx is None:
        yield
        return
    g = app_ctx.g
    app_ctx.g = MemoG(g, rec)
    try:
        yield
    finally:
        app_ctx.g = g


@contextmanager
def _current(rec: Recorder) -> Iterator[None]:
    token = current_recorder.set(rec)
    try:
        yield
    finally:
        current_recorder.reset(token)
