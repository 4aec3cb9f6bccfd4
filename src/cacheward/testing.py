"""A pytest plugin: keep cacheward's guarantees in your own test suite.

Installed with cacheward and registered through the ``pytest11`` entry point, so its
fixtures are available in any suite that has an ``app`` fixture (as in Flask's testing
docs and pytest-flask):

.. code-block:: python

    @pytest.fixture(autouse=True)
    def _strict(cacheward_strict):
        # every route that reads an input outside its cache key raises UnkeyedInputError
        pass

    def test_reports_never_leak(client, cacheward_keys):
        keys = {
            "alice": cacheward_keys("alice", ["reports:read"]),
            "bob": cacheward_keys("bob", ["reports:read"]),
        }
        denied = [cacheward_keys("intern", [])]
        assert_no_cross_key_leak(client, "/report", keys, denied=denied)

No message written by this module contains a raw API key: keys are shown as
:func:`cacheward.keys.redact` shows them.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from .core import cachestatus
from .flask.state import State
from .keys import MemoryKeyStore, redact

__all__ = [
    "RedactedKey",
    "assert_no_cross_key_leak",
    "assert_no_cross_key_leak_async",
    "cacheward_keys",
    "cacheward_strict",
]

KeyFactory = Callable[..., "RedactedKey"]
Normalize = Callable[[bytes], Any]

_EXCERPT = 80


class RedactedKey(str):
    """An API key (a plain ``str``) whose ``repr`` is redacted, so that pytest's failure
    output, which shows test arguments and locals with ``repr``, never prints it.
    :func:`cacheward_keys` returns these; wrap keys you make yourself the same way.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(redact(str(self)))


def _state(app: Any, fixture: str) -> Any:
    """The guard's state of a Flask app, or of a FastAPI/Starlette app (``app.state``)."""
    extensions = getattr(app, "extensions", None)
    state = extensions.get("cacheward") if isinstance(extensions, dict) else None
    if isinstance(state, State):
        return state
    state = getattr(getattr(app, "state", None), "cacheward", None)
    if state is not None and type(state).__module__ == "cacheward.asgi.state":
        return state
    raise pytest.UsageError(
        f"{fixture}: the `app` fixture's application has no Cacheward;"
        " call Cacheward(app) or ward.init_app(app) first"
    )


@pytest.fixture
def cacheward_strict(request: pytest.FixtureRequest) -> Iterator[Flask]:
    """Turn ``CACHEWARD_STRICT`` on for the ``app`` fixture's application while the test
    runs: a cached route that reads an input outside its cache key raises
    :class:`~cacheward.UnkeyedInputError` (naming the input and the fix) instead of being
    served uncached. Make it autouse in your ``conftest.py`` to cover every test.
    """
    app: Flask = request.getfixturevalue("app")
    state = _state(app, "cacheward_strict")
    if not isinstance(state, State):  # FastAPI / Starlette: no app.config
        before_strict, state.strict = state.strict, True
        try:
            yield app
        finally:
            state.strict = before_strict
        return
    before = state.strict, app.config.get("CACHEWARD_STRICT")
    state.strict = True
    app.config["CACHEWARD_STRICT"] = True
    try:
        yield app
    finally:
        state.strict = before[0]
        if before[1] is None:
            app.config.pop("CACHEWARD_STRICT", None)
        else:
            app.config["CACHEWARD_STRICT"] = before[1]


@pytest.fixture
def cacheward_keys(request: pytest.FixtureRequest) -> Iterator[KeyFactory]:
    """A factory that issues API keys and returns their plaintexts, as
    :class:`RedactedKey`: ``cacheward_keys(principal_id, scopes=(), tenant=None,
    expires=None)``.

    The keys live in a :class:`~cacheward.keys.MemoryKeyStore` of their own that stands
    in for the ``app`` fixture's key store while the test runs, and the app's store is
    put back afterwards: a test never writes into the app's real store (an SQLite file
    in the instance folder, a Redis), and keys issued there are not valid meanwhile.
    """
    app: Flask = request.getfixturevalue("app")
    state = _state(app, "cacheward_keys")
    if state.keys is None:
        raise pytest.UsageError("cacheward_keys: Cacheward(app, keys=...) has no key store")
    real, store = state.keys, MemoryKeyStore()
    if isinstance(state, State):
        state.keys = store
    else:  # the ASGI guard awaits its key store
        from .asgi.keys import InlineKeyStore

        state.keys = InlineKeyStore(store)

    def issue(
        principal_id: str,
        scopes: Iterable[str] = (),
        tenant: str | None = None,
        expires: float | None = None,
    ) -> RedactedKey:
        key = store.create(principal_id, scopes, tenant=tenant, expires=expires)
        return RedactedKey(key.plaintext)

    try:
        yield issue
    finally:
        state.keys = real


def _read_unkeyed(value: str) -> bool:
    """Whether the guard's ``Cache-Status`` member says it did not store the response
    because the view read an input outside its key."""
    ours = cachestatus.ours(value)
    return ours is not None and ours.params.get("detail") == "unkeyed-input"


class _Prober:
    """Sends the requests of :func:`assert_no_cross_key_leak` and words its failures."""

    def __init__(
        self,
        client: FlaskClient,
        path: str,
        header: str,
        secrets: Iterable[str],
        normalize: Normalize,
    ) -> None:
        self.client = client
        self.path = path
        self.header = header
        self.secrets = tuple(s for s in secrets if s)
        self.normalize = normalize
        self.problems: list[str] = []

    def get(self, key: str | None) -> tuple[int, bytes, str]:
        headers = {}
        if key is not None:
            value = f"Bearer {key}" if self.header.lower() == "authorization" else key
            headers[self.header] = value
        response = self.client.get(self.path, headers=headers)
        # A Flask test response, or an httpx one (Starlette's TestClient, httpx clients).
        get_data = getattr(response, "get_data", None)
        data: bytes = get_data() if get_data is not None else response.content  # type: ignore[attr-defined]
        if _read_unkeyed(response.headers.get("Cache-Status", "")):
            self.fail(
                f"{self.who(key)} got a response that read an input outside its cache key"
                " (Cache-Status: detail=unkeyed-input); use the cacheward_strict fixture to"
                " see which input"
            )
        return response.status_code, data, response.headers.get("Cache-Status", "")

    def who(self, key: str | None, name: str | None = None) -> str:
        if key is None:
            return "an anonymous caller (no key)"
        shown = redact(key)
        return f"{name} ({shown})" if name else f"a denied key ({shown})"

    def excerpt(self, body: bytes) -> str:
        # Redact the whole body first, then cut: cutting first could split a key so that
        # its head no longer matches and is printed as it is.
        text = body.decode("utf-8", "replace")
        for secret in self.secrets:
            text = text.replace(secret, redact(secret))
        cut = text[:_EXCERPT]
        return repr(cut + ("…" if len(text) > len(cut) else ""))

    def fail(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)

    def expect_refused(self, key: str | None, allowed: tuple[int, ...], after: str) -> None:
        status, body, _ = self.get(key)
        if status not in allowed:
            wanted = " or ".join(map(str, allowed))
            self.fail(
                f"GET {self.path} by {self.who(key)} {after} answered {status}, expected"
                f" {wanted}; body {self.excerpt(body)}"
            )


@dataclass
class _Refused:
    """The callers that must be refused: anonymous (401) and each denied key (401/403)."""

    prober: _Prober
    anonymous: bool
    denied: tuple[str, ...]

    def check(self, after: str) -> None:
        if self.anonymous:
            self.prober.expect_refused(None, (401,), after)
        for key in self.denied:
            self.prober.expect_refused(key, (401, 403), after)


@dataclass
class _Warm:
    """Each key's first response: its body and what is compared of it."""

    keys: Mapping[str, str]
    baseline: dict[str, Any]
    bodies: dict[str, bytes]


def _warm(prober: _Prober, keys: Mapping[str, str]) -> _Warm:
    """Ask once with each key: each must get its own 2xx, and no two the same body."""
    warm = _Warm(keys, {}, {})
    path = prober.path
    for name, key in keys.items():
        status, body, _ = prober.get(key)
        if not 200 <= status < 300:
            prober.fail(
                f"GET {path} by {prober.who(key, name)} answered {status}, expected its own"
                f" 2xx; body {prober.excerpt(body)} (a cached error served to a valid key?)"
            )
        warm.baseline[name], warm.bodies[name] = prober.normalize(body), body
    names = list(keys)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if warm.baseline[a] == warm.baseline[b]:
                prober.fail(
                    f"GET {path} by {prober.who(keys[b], b)} after {prober.who(keys[a], a)} was"
                    f" served {prober.who(keys[a], a)}'s response:"
                    f" {prober.excerpt(warm.bodies[a])}"
                    " (the same body; responses for different principals must differ)"
                )
    return warm


def _cross(prober: _Prober, warm: _Warm, a: str, order: list[str]) -> str:
    """Ask with ``a``'s key, then with every other in ``order``: each must get its own
    first response. Returns how the requests after it are described."""
    keys, baseline = warm.keys, warm.baseline
    prober.get(keys[a])
    after = f"right after {prober.who(keys[a], a)}"
    for b in order:
        if b == a:
            continue
        _, body, cache_status = prober.get(keys[b])
        got = prober.normalize(body)
        if got == baseline[b]:
            continue
        owner = next((n for n in keys if n != b and baseline[n] == got), None)
        if owner is not None:
            what = f"{prober.who(keys[owner], owner)}'s response"
        else:
            what = f"a body other than its own {prober.excerpt(warm.bodies[b])}"
        prober.fail(
            f"GET {prober.path} by {prober.who(keys[b], b)} {after} was served {what}:"
            f" {prober.excerpt(body)} (Cache-Status: {cache_status or '-'})"
        )
    return after


def assert_no_cross_key_leak(
    client: FlaskClient,
    path: str,
    keys: Mapping[str, str],
    *,
    header: str = "X-API-Key",
    denied: Iterable[str] = (),
    anonymous: bool = True,
    repeat: int = 2,
    refused_first: bool = True,
    normalize: Normalize | None = None,
) -> None:
    """Assert that ``GET path`` never serves one principal's response to another, to a
    caller with no key, or to a denied key, whatever order they come in.

    ``keys`` maps a name to the key of a *different* principal each; the endpoint must
    answer each with a 2xx made for it, so bodies for different principals must differ.
    The helper asks anonymously and with each denied key first (expects 401/403: a
    cached 401 served to a valid key after it is a failure too), warms each key's
    response, then ``repeat`` times asks with every key after every other, checking that
    each gets exactly its own first response, and that the anonymous caller still gets
    401 and each ``denied`` key 401 or 403. Every problem found is reported in one
    :class:`AssertionError`; keys appear only redacted.

    :param header: the header that carries the key; ``"Authorization"`` sends
        ``Bearer <key>``.
    :param denied: keys that must be refused (unknown, revoked, lacking a scope).
    :param anonymous: also check that a caller with no key gets 401.
    :param repeat: rounds of cross requests after warming.
    :param refused_first: ask anonymously and with the denied keys before warming.
        Either order can poison a shared cache for the rest of the run, hiding what the
        other order would show: test both orders, each on a fresh app, with ``False``
        the second time.
    :param normalize: maps a body to what is compared (default: the bytes), for bodies
        with a part that legitimately changes between requests.
    """
    __tracebackhide__ = True
    if len(keys) < 2 and not denied and not anonymous:
        raise ValueError("assert_no_cross_key_leak needs two keys, a denied key or anonymous")
    if len(set(keys.values())) != len(keys):
        raise ValueError("each name in keys needs its own key")
    denied = tuple(denied)
    prober = _Prober(client, path, header, (*keys.values(), *denied), normalize or bytes)
    refused = _Refused(prober, anonymous, denied)
    if refused_first:
        refused.check("before any key")
    warm = _warm(prober, keys)
    names = list(keys)
    for round_ in range(repeat):
        order = names if round_ % 2 == 0 else names[::-1]
        for a in order:
            refused.check(_cross(prober, warm, a, order))

    if prober.problems:
        lines = "\n".join(f"  - {p}" for p in prober.problems)
        raise AssertionError(f"cacheward: GET {path} leaks across keys:\n{lines}")


class _BlockingClient:
    """An async client (``httpx.AsyncClient``) seen from a worker thread as a sync one."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, path: str, headers: Mapping[str, str]) -> Any:
        import anyio.from_thread

        return anyio.from_thread.run(lambda: self.client.get(path, headers=headers))


async def assert_no_cross_key_leak_async(
    client: Any, path: str, keys: Mapping[str, str], **options: Any
) -> None:
    """:func:`assert_no_cross_key_leak` for an async client, such as
    ``httpx.AsyncClient(transport=httpx.ASGITransport(app))``; the same options."""
    __tracebackhide__ = True
    import anyio.to_thread

    await anyio.to_thread.run_sync(
        lambda: assert_no_cross_key_leak(
            _BlockingClient(client),  # type: ignore[arg-type]
            path,
            keys,
            **options,
        )
    )
