"""``ward.memoize`` and ``ward.delete_memoized`` (issue 14 D): keyed by the function and
the canonical form of its arguments, scoped, tracked, and refusing what cannot be keyed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import gc
import logging
import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask, g, jsonify, request
from tests.guardapp import make_app

from cacheward import Cacheward, Principal, UnkeyedInputError, current_principal
from cacheward.core.canonical import canonical
from cacheward.errors import ConfigurationError, UnkeyableArgument, UnstorableValue

# -- the canonical form -------------------------------------------------------------------


class Color(enum.Enum):
    RED = 1
    ALSO_RED = 1  # an alias: keyed by name, as written in the call


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Account:
    """A model whose default repr is its memory address."""

    def __init__(self, account_id: int) -> None:
        self.account_id = account_id


class KeyedAccount(Account):
    def __cache_key__(self) -> object:
        return self.account_id


class PrettyRepr:
    def __repr__(self) -> str:
        return "PrettyRepr()"


class Zone(dt.tzinfo):
    def utcoffset(self, when: object) -> dt.timedelta:
        return dt.timedelta(hours=1)


def test_the_canonical_form_keeps_types_apart() -> None:
    values: list[Any] = [1, 1.0, True, "1", b"1", (1,), [1], {1}, frozenset({1}), Decimal(1)]
    forms = {canonical(v) for v in values}
    assert len(forms) == len(values)
    assert canonical(Decimal("1.0")) != canonical(Decimal("1.00"))
    assert canonical(0.0) != canonical(-0.0)
    assert canonical(None) != canonical("") != canonical(b"") != canonical(())
    naive = dt.datetime(2026, 1, 1, 12)
    assert canonical(naive) != canonical(naive.replace(tzinfo=dt.timezone.utc))
    assert canonical(naive.replace(tzinfo=ZoneInfo("Europe/Paris"))) != canonical(
        naive.replace(tzinfo=dt.timezone(dt.timedelta(hours=1)))
    )
    assert canonical(Color.RED) != canonical(Color.ALSO_RED) or Color.RED is Color.ALSO_RED
    # Injective framing: moving bytes between neighbours changes the form.
    assert canonical(("ab", "c")) != canonical(("a", "bc"))
    assert canonical({"a": "b,c"}) != canonical({"a,b": "c"})


def test_the_canonical_form_is_stable_across_orders() -> None:
    assert canonical({"a": 1, "b": 2}) == canonical({"b": 2, "a": 1})
    assert canonical({3, 1, 2}) == canonical({2, 3, 1})
    assert canonical(Point(1, 2)) == canonical(Point(1, 2)) != canonical(Point(2, 1))
    assert canonical(KeyedAccount(7)) == canonical(KeyedAccount(7)) != canonical(KeyedAccount(8))
    assert canonical(uuid.UUID(int=5)) == canonical(uuid.UUID(int=5))
    assert canonical(Point) == canonical(Point)

    class Migrated(Account):
        def __caching_id__(self) -> str:  # Flask-Caching's hook is honoured
            return f"account:{self.account_id}"

    assert canonical(Migrated(1)) == canonical(Migrated(1)) != canonical(Migrated(2))


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (Account(1), "memory address"),
        (object(), "memory address"),
        (PrettyRepr(), "no known canonical form"),
        ([1, [Account(1)]], "memory address"),
        ({"k": lambda: 1}, "canonical form"),
        (dt.datetime(2026, 1, 1, tzinfo=Zone()), "timezone"),
        ("x".join, "canonical form"),
    ],
)
def test_the_canonical_form_refuses_what_it_cannot_know(value: object, words: str) -> None:
    with pytest.raises(UnkeyableArgument, match=words) as caught:
        canonical(value, "memoize(f)")
    assert isinstance(caught.value, TypeError)
    assert "memoize(f)" in str(caught.value)


def test_the_canonical_form_refuses_cycles() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(UnkeyableArgument, match="deeper"):
        canonical(loop)


# -- memoize in an app ----------------------------------------------------------------------


def _app(**config: object) -> tuple[Flask, Cacheward, dict[str, str], list[Any]]:
    app, ward, store = make_app(**config)
    keys = {
        "alice": store.create("alice").plaintext,
        "bob": store.create("bob").plaintext,
        "carol": store.create("carol", tenant="acme").plaintext,
        "dave": store.create("dave", tenant="acme").plaintext,
    }
    return app, ward, keys, []


def test_principal_scope_keeps_principals_apart() -> None:
    """Another principal's call never gets the first one's result."""
    app, ward, keys, runs = _app()

    @ward.memoize(60)
    def token_for(service: str) -> str:
        runs.append(current_principal.id)
        return f"{service}-token-of-{current_principal.id}"

    @app.get("/token/<service>")
    @ward.protected()
    def token(service: str):  # type: ignore[no-untyped-def]
        return jsonify(token=token_for(service))

    c = app.test_client()
    for _ in range(2):
        for who in ("alice", "bob"):
            r = c.get("/token/github", headers={"X-API-Key": keys[who]})
            assert r.get_json() == {"token": f"github-token-of-{who}"}
    assert runs == ["alice", "bob"]  # once each, then their own stored result
    ward.purge(principal="alice", app=app)
    c.get("/token/github", headers={"X-API-Key": keys["alice"]})
    assert runs == ["alice", "bob", "alice"]


def test_tenant_and_shared_scopes() -> None:
    app, ward, keys, runs = _app()

    @ward.memoize(60, scope="tenant")
    def plan() -> str:
        runs.append(current_principal.tenant)
        return f"plan-of-{current_principal.tenant}"

    @ward.memoize(60, scope="shared")
    def rates(currency: str) -> dict[str, object]:
        runs.append(currency)
        return {"currency": currency, "rate": Decimal("1.10")}

    @app.get("/plan")
    @ward.protected()
    def view():  # type: ignore[no-untyped-def]
        return jsonify(plan=plan(), rate=str(rates("EUR")["rate"]))

    c = app.test_client()
    for who in ("carol", "dave", "carol"):
        assert c.get("/plan", headers={"X-API-Key": keys[who]}).get_json() == {
            "plan": "plan-of-acme",
            "rate": "1.10",
        }
    assert runs == ["acme", "EUR"]


def test_a_method_keyed_by_its_address_is_refused_not_shared() -> None:
    """Flask-Caching keys this by repr(self), a memory address another object reuses."""
    app, ward, keys, runs = _app()

    class Tokens:
        def __init__(self, user: str) -> None:
            self.user = user

        @ward.memoize(60, scope="shared", name="Tokens.access_token")
        def access_token(self) -> str:
            runs.append(self.user)
            return f"secret-of-{self.user}"

    with app.app_context():
        for user in ("alice", "bob"):
            obj = Tokens(user)
            with pytest.raises(UnkeyableArgument, match="memory address"):
                obj.access_token()
            del obj
            gc.collect()
    assert runs == []  # refused before running: nothing to leak, nothing stored

    class KeyedTokens(Tokens):
        def __cache_key__(self) -> str:
            return self.user

        @ward.memoize(60, scope="shared", name="KeyedTokens.access_token")
        def access_token(self) -> str:
            runs.append(self.user)
            return f"secret-of-{self.user}"

    with app.app_context():
        assert KeyedTokens("alice").access_token() == "secret-of-alice"
        assert KeyedTokens("bob").access_token() == "secret-of-bob"
        assert KeyedTokens("alice").access_token() == "secret-of-alice"
    assert runs == ["alice", "bob"]


def test_unknown_argument_types_are_refused_with_the_type_named() -> None:
    app, ward, _, runs = _app()

    @ward.memoize(60, scope="shared", name="f")
    def f(value: object) -> int:
        runs.append(value)
        return 1

    with app.app_context(), pytest.raises(UnkeyableArgument, match="PrettyRepr"):
        f(PrettyRepr())
    assert runs == []


def test_arguments_bound_to_the_signature() -> None:
    app, ward, _, runs = _app()

    @ward.memoize(60, scope="shared", name="page")
    def page(number: int, size: int = 10, **filters: str) -> list[int]:
        runs.append((number, size, filters))
        return [number, size]

    with app.app_context():
        assert page(1) == page(number=1) == page(1, 10) == [1, 10]
        assert page(1, status="open") == [1, 10]
        assert page(1, status="open") == [1, 10]
        assert page(1, 20) == [1, 20]
        with pytest.raises(TypeError):
            page()  # the function's own error
    assert len(runs) == 3  # (1,10,{}), (1,10,{status}), (1,20,{}); page() never ran


def test_a_result_that_read_a_request_input_is_not_stored() -> None:
    app, ward, keys, runs = _app(CACHEWARD_STRICT=False)

    @ward.memoize(60, scope="shared")
    def greeting() -> str:
        runs.append(1)
        return "bonjour" if request.headers.get("Accept-Language") == "fr" else "hello"

    @app.get("/greet")
    @ward.protected()
    def greet():  # type: ignore[no-untyped-def]
        return jsonify(greeting=greeting())

    c = app.test_client()
    fr = c.get("/greet", headers={"X-API-Key": keys["alice"], "Accept-Language": "fr"})
    en = c.get("/greet", headers={"X-API-Key": keys["alice"], "Accept-Language": "en"})
    assert fr.get_json() == {"greeting": "bonjour"} and en.get_json() == {"greeting": "hello"}
    assert runs == [1, 1]


def test_strict_mode_says_what_to_pass_instead() -> None:
    app, ward, keys, _ = _app()  # TESTING: strict

    @ward.memoize(60, scope="shared")
    def lang() -> str | None:
        return request.args.get("lang")

    @app.get("/lang")
    @ward.protected()
    def view():  # type: ignore[no-untyped-def]
        return jsonify(lang=lang())

    with pytest.raises(UnkeyedInputError, match="query parameter 'lang'.*arguments"):
        app.test_client().get("/lang?lang=fr", headers={"X-API-Key": keys["alice"]})


@pytest.mark.parametrize(
    "read",
    [
        lambda: g.user,  # what a hook or the auth layer put on g
        lambda: request.host,
        lambda: request.scheme,
        lambda: request.remote_addr,
        lambda: request.cookies.get("sid"),
        lambda: current_principal.id,  # in a shared memo
        lambda: current_principal.key_id,  # not even a principal memo keys it
    ],
)
def test_every_kind_of_request_input_keeps_a_result_out(read: Any) -> None:
    app, ward, keys, runs = _app(CACHEWARD_STRICT=False)

    @app.before_request
    def hook() -> None:
        g.user = request.headers.get("X-User")

    @ward.memoize(60, scope="shared", name="reader")
    def reader() -> str:
        runs.append(1)
        return str(read())

    @app.get("/r")
    @ward.protected()
    def view():  # type: ignore[no-untyped-def]
        return jsonify(value=reader())

    c = app.test_client()
    for _ in range(2):
        c.get("/r", headers={"X-API-Key": keys["alice"], "X-User": "u", "Cookie": "sid=1"})
    assert runs == [1, 1]


def test_a_principal_memo_may_read_the_principal() -> None:
    app, ward, keys, runs = _app()

    @ward.memoize(60)
    def mine() -> str:
        runs.append(1)
        return f"{current_principal.id}@{current_principal.tenant}"

    @app.get("/mine")
    @ward.protected()
    def view():  # type: ignore[no-untyped-def]
        return jsonify(mine=mine())

    c = app.test_client()
    for _ in range(2):
        assert c.get("/mine", headers={"X-API-Key": keys["carol"]}).get_json() == {
            "mine": "carol@acme"
        }
    assert runs == [1]


def test_a_memo_hit_cannot_hide_the_principal_from_a_shared_response() -> None:
    """A shared cached view built from a principal's memoized result: the result depends
    on who calls, hit or miss, so the shared response is never stored."""
    app, ward, keys, runs = _app(CACHEWARD_STRICT=False)

    @ward.memoize(60)
    def balance() -> str:
        runs.append(1)
        return f"balance-of-{current_principal.id}"

    @app.get("/summary")
    @ward.protected()
    @ward.cached(ttl=60, scope="shared")
    def summary():  # type: ignore[no-untyped-def]
        return jsonify(balance=balance())

    c = app.test_client()
    for who in ("alice", "alice", "bob"):
        r = c.get("/summary", headers={"X-API-Key": keys[who]})
        assert r.get_json() == {"balance": f"balance-of-{who}"}
        assert r.headers["Cache-Status"] == "cacheward; fwd=miss; detail=unkeyed-input"
    assert runs == [1, 1]  # alice's second call was a memo hit: still not stored


def test_what_a_memo_reads_counts_for_the_cached_view_too() -> None:
    app, ward, keys, _ = _app(CACHEWARD_STRICT=False)

    @ward.memoize(60, scope="shared")
    def forwarded() -> str | None:
        return request.headers.get("X-Forwarded-Host")

    @app.get("/links")
    @ward.protected()
    @ward.cached(ttl=60, scope="shared")
    def links():  # type: ignore[no-untyped-def]
        return jsonify(host=forwarded())

    c = app.test_client()
    r = c.get("/links", headers={"X-API-Key": keys["alice"], "X-Forwarded-Host": "evil"})
    assert r.headers["Cache-Status"] == "cacheward; fwd=miss; detail=unkeyed-input"
    r = c.get("/links", headers={"X-API-Key": keys["bob"]})
    assert r.get_json() == {"host": None}


def test_a_shared_memo_in_a_cached_view_is_stored_with_it() -> None:
    app, ward, keys, runs = _app()

    @ward.memoize(60, scope="shared")
    def catalog(page: int) -> list[str]:
        runs.append(page)
        return [f"item-{page}"]

    @app.get("/catalog/<int:page>")
    @ward.protected()
    @ward.cached(ttl=60, scope="shared")
    def view(page: int):  # type: ignore[no-untyped-def]
        return jsonify(items=catalog(page))

    c = app.test_client()
    first = c.get("/catalog/1", headers={"X-API-Key": keys["alice"]})
    assert first.headers["Cache-Status"] == "cacheward; fwd=miss; stored"
    assert (
        c.get("/catalog/1", headers={"X-API-Key": keys["bob"]}).headers["Cache-Status"]
        == "cacheward; hit"
    )
    assert runs == [1]


def test_delete_memoized_one_call_all_calls_and_another_principals() -> None:
    app, ward, keys, runs = _app()

    @ward.memoize(60)
    def doc(doc_id: int) -> str:
        runs.append((current_principal.id, doc_id))
        return f"{current_principal.id}:{doc_id}"

    @app.get("/doc/<int:doc_id>")
    @ward.protected()
    def view(doc_id: int):  # type: ignore[no-untyped-def]
        return jsonify(doc=doc(doc_id))

    @app.post("/doc/<int:doc_id>")
    @ward.protected()
    def edit(doc_id: int):  # type: ignore[no-untyped-def]
        ward.delete_memoized(doc, doc_id)  # the caller's own entry
        return "", 204

    c = app.test_client()

    def get(who: str, doc_id: int) -> None:
        c.get(f"/doc/{doc_id}", headers={"X-API-Key": keys[who]})

    for who, doc_id in [("alice", 1), ("alice", 2), ("bob", 1)]:
        get(who, doc_id)
    assert len(runs) == 3
    c.post("/doc/1", headers={"X-API-Key": keys["alice"]})
    for who, doc_id in [("alice", 1), ("alice", 2), ("bob", 1)]:
        get(who, doc_id)
    assert runs[3:] == [("alice", 1)]  # only alice's doc 1 ran again
    with app.app_context():
        ward.delete_memoized_for("bob", doc, 1)
        with pytest.raises(ConfigurationError, match="whose result"):
            ward.delete_memoized(doc, 1)  # no request: whose?
    get("bob", 1)
    get("alice", 1)
    assert runs[4:] == [("bob", 1)]
    with app.app_context():
        ward.delete_memoized(doc)  # every call, every principal
    get("bob", 1)
    get("alice", 2)
    assert runs[5:] == [("bob", 1), ("alice", 2)]


def test_unstorable_results() -> None:
    app, ward, keys, runs = _app()

    @ward.memoize(60, scope="shared")
    def model() -> object:
        runs.append(1)
        return Account(1)

    with app.app_context(), pytest.raises(UnstorableValue, match="Account"):
        model()  # strict (TESTING)
    app.extensions["cacheward"].strict = False
    with app.app_context():
        assert isinstance(model(), Account) and isinstance(model(), Account)
    assert runs == [1, 1, 1]


def test_misuse_is_refused_clearly(caplog: pytest.LogCaptureFixture) -> None:
    app, ward, _, runs = _app()

    with pytest.raises(ConfigurationError, match="lambda"):
        ward.memoize(60)(lambda x: x)
    with pytest.raises(ConfigurationError, match="scope"):
        ward.memoize(60, scope="everyone")
    with pytest.raises(ConfigurationError, match="ttl"):
        ward.memoize(-1)
    with pytest.raises(ConfigurationError, match="not a function decorated"):
        ward.delete_memoized(len)

    @ward.memoize(60, name="mine")
    def mine() -> str:
        runs.append(1)
        return "x"

    with pytest.raises(ConfigurationError, match="application context"):
        mine()
    with app.app_context(), caplog.at_level(logging.WARNING, "cacheward"):
        assert mine() == mine() == "x"  # no principal: served, not cached
    assert runs == [1, 1]
    assert "called with no principal" in caplog.text


def test_principal_source_and_source_check() -> None:
    app, ward, _, runs = _app()

    @ward.memoize(60, principal=lambda: request.headers.get("X-User"), source_check=True)
    def who() -> str:
        runs.append(1)
        return "ok"

    assert "#" in who.__cacheward_memo__.name  # type: ignore[attr-defined]
    with app.test_request_context(headers={"X-User": "alice"}):
        assert who() == "ok"
    with app.test_request_context(headers={"X-User": "alice"}):
        assert who() == "ok"
    with app.test_request_context(headers={"X-User": "bob"}):
        assert who() == "ok"
    assert runs == [1, 1]
    with app.app_context():
        ward.delete_memoized_for(Principal("alice"), who)  # alice's one call, exactly
    with app.test_request_context(headers={"X-User": "alice"}):
        who()
    with app.test_request_context(headers={"X-User": "bob"}):
        who()
    assert runs == [1, 1, 1]


def test_a_memo_called_by_a_memo_counts_for_both() -> None:
    """A shared memo whose inner shared memo read the principal is not stored either."""
    app, ward, keys, runs = _app(CACHEWARD_STRICT=False)

    @ward.memoize(60, scope="shared", name="inner")
    def inner() -> str:
        runs.append("inner")
        return str(current_principal.id)

    @ward.memoize(60, scope="shared", name="outer")
    def outer() -> str:
        runs.append("outer")
        return "hello " + inner()

    @app.get("/hello")
    @ward.protected()
    def view():  # type: ignore[no-untyped-def]
        return jsonify(text=outer())

    c = app.test_client()
    assert c.get("/hello", headers={"X-API-Key": keys["alice"]}).get_json()["text"] == (
        "hello alice"
    )
    assert c.get("/hello", headers={"X-API-Key": keys["bob"]}).get_json()["text"] == "hello bob"
    assert runs == ["outer", "inner"] * 2


def test_a_principal_memo_in_a_principal_route_is_stored_with_it() -> None:
    app, ward, keys, runs = _app()

    @ward.memoize(60)
    def mine() -> str:
        runs.append(1)
        return str(current_principal.id)

    @app.get("/mine")
    @ward.protected()
    @ward.cached(ttl=60)
    def view():  # type: ignore[no-untyped-def]
        return jsonify(mine=mine())

    c = app.test_client()
    r = c.get("/mine", headers={"X-API-Key": keys["alice"]})
    assert r.headers["Cache-Status"] == "cacheward; fwd=miss; stored"
    assert c.get("/mine", headers={"X-API-Key": keys["bob"]}).get_json() == {"mine": "bob"}


class Report:
    def __init__(self, report_id: int) -> None:
        self.report_id = report_id

    def __cache_key__(self) -> int:
        return self.report_id


def test_delete_memoized_of_a_bound_method() -> None:
    app, ward, _, runs = _app()

    class Reports(Report):
        @ward.memoize(60, scope="shared", name="Reports.total")
        def total(self, year: int) -> int:
            runs.append((self.report_id, year))
            return year

    with app.app_context():
        one, two = Reports(1), Reports(2)
        for obj in (one, two, one, two):
            obj.total(2026)
        assert runs == [(1, 2026), (2, 2026)]
        ward.delete_memoized(one.total, 2026)
        one.total(2026)
        two.total(2026)
    assert runs[2:] == [(1, 2026)]
