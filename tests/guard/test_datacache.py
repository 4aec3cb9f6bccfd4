"""``ward.data`` (issue 14 D): plain, signed values with the guard's scopes, and the value
codec under them."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections import OrderedDict, namedtuple
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask, jsonify
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.guardapp import make_app

from cacheward import Cacheward, Principal
from cacheward.backends.memory import MemoryBackend
from cacheward.core.entry import Entry
from cacheward.core.secret import Secrets
from cacheward.core.values import open_sealed, seal
from cacheward.errors import ConfigurationError, UnstorableValue

SECRETS = Secrets("value-secret-0123456789")

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -(2**100),
    1.5,
    float("inf"),
    -0.0,
    "",
    "héllo \ud800 surrogate",
    b"\x00\xff",
    bytearray(b"ab"),
    [1, [2, [3]]],
    (1, ("a", b"b")),
    (),
    {"a": 1, 2: "b", (1, 2): None, None: [], frozenset({1}): 0.5},
    {1, "a", (2, 3)},
    frozenset({b"x"}),
    Decimal("1.10"),
    Decimal("-Infinity"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    dt.date(2026, 12, 3),
    dt.time(17, 5, 1, 7),
    dt.time(17, 5, tzinfo=dt.timezone.utc),
    dt.datetime(2026, 12, 3, 17, 5, 1, 999),
    dt.datetime(2026, 12, 3, 17, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5), "EST")),
    dt.datetime(2026, 12, 3, 17, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    dt.datetime(2026, 12, 3, 17, 5, tzinfo=ZoneInfo("Europe/Paris")),
    dt.timedelta(days=-1, seconds=5, microseconds=3),
]


@pytest.mark.parametrize("value", VALUES, ids=[repr(v)[:30] for v in VALUES])
def test_every_supported_type_round_trips_exactly(value: Any) -> None:
    ok, back = open_sealed(SECRETS, "k", seal(SECRETS, "k", value))
    assert ok
    expected = bytes(value) if isinstance(value, bytearray) else value
    assert back == expected and type(back) is type(expected)
    if isinstance(value, dict):
        assert list(back) == list(value)  # order kept
    if isinstance(value, dt.datetime | dt.time) and value.tzinfo is not None:
        assert back.tzinfo == value.tzinfo and back.tzname() == value.tzname()


class Level(enum.IntEnum):
    LOW = 1


Pair = namedtuple("Pair", "a b")


class Zone(dt.tzinfo):
    def utcoffset(self, when: object) -> dt.timedelta:
        return dt.timedelta(0)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (object(), "builtins.object"),
        (Level.LOW, "Level"),  # an int subclass: refused, not silently made an int
        (Pair(1, 2), "Pair"),
        (OrderedDict(a=1), "OrderedDict"),
        ({"nested": [1, {2: complex(1, 2)}]}, "builtins.complex"),
        (dt.datetime(2026, 1, 1, tzinfo=Zone()), "tzinfo Zone"),
        (lambda: 1, "function"),
    ],
)
def test_other_types_are_refused_with_the_type_named(value: object, named: str) -> None:
    with pytest.raises(UnstorableValue, match=named) as caught:
        seal(SECRETS, "k", value, "ward.data.set('x')")
    assert isinstance(caught.value, TypeError) and "ward.data.set('x')" in str(caught.value)


def test_a_tampered_copied_or_foreign_value_never_loads() -> None:
    sealed = seal(SECRETS, "key-1", {"role": "user"})
    assert open_sealed(SECRETS, "key-1", sealed) == (True, {"role": "user"})
    flipped = sealed.replace(b"user", b"root")
    assert open_sealed(SECRETS, "key-1", flipped) == (False, None)
    assert open_sealed(SECRETS, "key-2", sealed) == (False, None)  # copied to another key
    assert open_sealed(Secrets("another-secret-0123456"), "key-1", sealed) == (False, None)
    assert open_sealed(SECRETS, "key-1", sealed[:-1]) == (False, None)
    assert open_sealed(SECRETS, "key-1", b"") == (False, None)
    rotated = Secrets(["value-secret-0123456789", "newer-secret-0123456789"])
    assert open_sealed(rotated, "key-1", sealed) == (True, {"role": "user"})


def test_a_validly_signed_but_malformed_payload_is_a_miss() -> None:
    """A writer with the secret and another layout: refused, never an exception."""
    from cacheward.core.secret import Purpose
    from cacheward.core.values import _HEAD, _signed

    for payload in (b"?", b"i\x00\x00\x00\x09notanint", b"l\xff\xff\xff\xff", b"N" + b"N"):
        body = _HEAD + payload
        data = body + SECRETS.sign(Purpose.VALUE, _signed("k", body))
        assert open_sealed(SECRETS, "k", data) == (False, None)


# -- ward.data in an app --------------------------------------------------------------------


def _app(**config: object) -> tuple[Flask, Cacheward, dict[str, str]]:
    app, ward, store = make_app(**config)
    keys = {
        "alice": store.create("alice").plaintext,
        "bob": store.create("bob").plaintext,
        "carol": store.create("carol", tenant="acme").plaintext,
        "dave": store.create("dave", tenant="acme").plaintext,
    }
    return app, ward, keys


def test_scopes_keep_principals_and_tenants_apart() -> None:
    app, ward, keys = _app()

    @app.post("/prefs/<scope>")
    @ward.protected()
    def save(scope: str):  # type: ignore[no-untyped-def]
        from flask import request

        ward.data.set("prefs", request.get_json(), ttl=60, scope=scope)
        return "", 204

    @app.get("/prefs/<scope>")
    @ward.protected()
    def load(scope: str):  # type: ignore[no-untyped-def]
        return jsonify(prefs=ward.data.get("prefs", scope=scope))

    c = app.test_client()

    def get(who: str, scope: str) -> object:
        return c.get(f"/prefs/{scope}", headers={"X-API-Key": keys[who]}).get_json()["prefs"]

    c.post("/prefs/principal", json={"theme": "dark"}, headers={"X-API-Key": keys["alice"]})
    assert get("alice", "principal") == {"theme": "dark"}
    assert get("bob", "principal") is None  # another principal's call
    c.post("/prefs/tenant", json={"plan": "pro"}, headers={"X-API-Key": keys["carol"]})
    assert get("dave", "tenant") == {"plan": "pro"}
    assert get("alice", "tenant") is None
    c.post("/prefs/shared", json={"motd": "hi"}, headers={"X-API-Key": keys["bob"]})
    assert get("alice", "shared") == {"motd": "hi"}
    ward.purge(principal="alice", app=app)
    assert get("alice", "principal") is None
    assert get("alice", "shared") == {"motd": "hi"}


def test_outside_a_request_the_principal_is_said() -> None:
    app, ward, _ = _app()
    with app.app_context():
        assert ward.data.set("n", 1, scope="shared")
        assert ward.data.get("n", scope="shared") == 1
        assert ward.data.set("n", 2, principal="alice")
        assert ward.data.get("n", principal=Principal("alice")) == 2
        assert ward.data.get("n", principal="bob", default="none") == "none"
        with pytest.raises(ConfigurationError, match="needs a principal"):
            ward.data.get("n")
        with pytest.raises(ConfigurationError, match="scope"):
            ward.data.get("n", scope="public")
        with pytest.raises(TypeError, match="non-empty strings"):
            ward.data.get(("tuple", "key"), scope="shared")  # type: ignore[arg-type]
        with pytest.raises(UnstorableValue, match="object"):
            ward.data.set("x", object(), scope="shared")
        assert not ward.data.has("x", scope="shared")  # nothing was written
    with pytest.raises(ConfigurationError, match="application context"):
        ward.data.get("n", scope="shared")


def test_get_many_set_many_delete_has_clear_and_ttl() -> None:
    app, ward, _ = _app()
    with app.app_context():
        d = ward.data
        assert d.set_many({"a": 1, "b": (2,)}, 60, scope="shared") == ["a", "b"]
        assert d.get_many("a", "b", "c", scope="shared") == [1, (2,), None]
        assert d.has("a", scope="shared") and not d.has("c", scope="shared")
        d.delete("a", scope="shared")
        assert d.get("a", scope="shared") is None and d.get("b", scope="shared") == (2,)
        d.set("none", None, scope="shared")
        assert d.has("none", scope="shared")  # a stored None is not a miss
        d.clear()
        assert d.get_many("b", "none", scope="shared") == [None, None]
        with pytest.raises(ConfigurationError, match="ttl"):
            d.set("a", 1, ttl=0, scope="shared")
        backend = app.extensions["cacheward"].backend
        assert isinstance(backend, MemoryBackend)
        d.set("short", 1, ttl=0.01, scope="shared")
        import time

        time.sleep(0.02)
        assert d.get("short", scope="shared") is None


def test_a_returned_value_is_a_copy() -> None:
    app, ward, _ = _app()
    with app.app_context():
        ward.data.set("l", [1, 2], scope="shared")
        got = ward.data.get("l", scope="shared")
        got.append(3)
        assert ward.data.get("l", scope="shared") == [1, 2]


def test_a_tampered_stored_value_is_a_miss_on_the_memory_backend() -> None:
    app, ward, _ = _app()
    with app.app_context():
        ward.data.set("role", "user", scope="shared")
        backend = app.extensions["cacheward"].backend
        (digest, (entry, size)), *_ = backend._entries.items()
        forged = entry.body.replace(b"user", b"root")
        backend._entries[digest] = (Entry(**{**vars(entry), "body": forged}), size)
        assert ward.data.get("role", "miss", scope="shared") == "miss"
        assert backend.stats.extra["rejected_value"] == 1


def test_a_value_moved_under_another_key_is_a_miss() -> None:
    """Someone who can write the store copies alice's value under bob's key."""
    app, ward, _ = _app()
    with app.app_context():
        ward.data.set("token", "alice-token", principal="alice")
        ward.data.set("token", "bob-token", principal="bob")
        backend = app.extensions["cacheward"].backend
        (alice_digest, (alice_entry, _)), (bob_digest, (bob_entry, size)) = list(
            backend._entries.items()
        )
        moved = Entry(**{**vars(bob_entry), "body": alice_entry.body})
        backend._entries[bob_digest] = (moved, size)
        assert ward.data.get("token", principal="bob") is None


def test_a_response_entry_is_never_a_value() -> None:
    """Stored responses and values share a backend; a response body under a value key
    (or the reverse) does not verify."""
    app, ward, keys = _app()

    @app.get("/r")
    @ward.protected()
    @ward.cached(ttl=60, scope="shared")
    def r():  # type: ignore[no-untyped-def]
        return "plain"

    app.test_client().get("/r", headers={"X-API-Key": keys["alice"]})
    with app.app_context():
        ward.data.set("v", "value", scope="shared")
        backend = app.extensions["cacheward"].backend
        items = list(backend._entries.items())
        (resp_digest, (resp, _)), (value_digest, (value, size)) = items
        backend._entries[value_digest] = (Entry(**{**vars(value), "body": resp.body}), size)
        assert ward.data.get("v", scope="shared") is None


def test_a_principals_value_keeps_a_shared_response_out() -> None:
    app, ward, keys = _app(CACHEWARD_STRICT=False)

    @app.get("/greeting")
    @ward.protected()
    @ward.cached(ttl=60, scope="shared")
    def greeting():  # type: ignore[no-untyped-def]
        return jsonify(name=ward.data.get("nickname"))

    with app.app_context():
        ward.data.set("nickname", "Al", principal="alice")
    c = app.test_client()
    r = c.get("/greeting", headers={"X-API-Key": keys["alice"]})
    assert r.get_json() == {"name": "Al"}
    assert r.headers["Cache-Status"] == "cacheward; fwd=miss; detail=unkeyed-input"
    assert c.get("/greeting", headers={"X-API-Key": keys["bob"]}).get_json() == {"name": None}


def test_disabled_caching_stores_nothing_but_still_refuses_bad_values() -> None:
    app, ward, _ = _app(CACHEWARD_ENABLED=False)
    with app.app_context():
        assert ward.data.set("a", 1, scope="shared") is False
        assert ward.data.get("a", scope="shared") is None
        with pytest.raises(UnstorableValue):
            ward.data.set("a", object(), scope="shared")


# -- properties -----------------------------------------------------------------------------


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.decimals(allow_nan=False)
    | st.uuids()
    | st.dates()
    | st.datetimes(timezones=st.none() | st.timezones())
    | st.timedeltas()
)
_hashable = st.recursive(
    _scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=6
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_hashable, inner, max_size=3)
        | st.sets(_hashable, max_size=3)
    ),
    max_leaves=12,
)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``1 == 1.0 == True`` is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        keys_same = all(_same(x, y) for x, y in zip(a, b, strict=True))  # and in order
        return keys_same and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, dt.datetime) and a.tzinfo is not None:
        return a == b and a.tzinfo == b.tzinfo and a.utcoffset() == b.utcoffset()
    return a == b or (a != a and b != b)


@settings(max_examples=150, deadline=None)
@given(_values)
def test_any_storable_value_round_trips_exactly(value: Any) -> None:
    ok, back = open_sealed(SECRETS, "k", seal(SECRETS, "k", value))
    assert ok and _same(back, value)


@settings(max_examples=150, deadline=None)
@given(_values, _values)
def test_two_values_share_a_memoize_key_only_if_they_are_the_same(a: Any, b: Any) -> None:
    from cacheward.core.canonical import canonical

    if canonical(a) == canonical(b):
        assert _canonically_same(a, b)


def _canonically_same(a: Any, b: Any) -> bool:
    """Like ``_same``, but sets and dicts in any order (what the key is meant to merge)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_canonically_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_canonically_same(a[k], b[k]) for k in a)
    if isinstance(a, dt.datetime | dt.time):
        return a == b and str(a) == str(b) and a.tzinfo == b.tzinfo
    if isinstance(a, Decimal):
        return str(a) == str(b)
    return a == b
