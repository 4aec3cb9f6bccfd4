"""Hostile input: nothing escapes as a 500, nothing malformed is stored, and two requests
the app reads differently never share a cache key (differential against Werkzeug).

Each property runs a bounded number of examples in CI and many more under ``-m slow``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.reliability.bad_inputs import CASES, BadInput, run_case, table
from tests.reliability.hostile import (
    body_json,
    core_key,
    kept_args,
    make_hostile,
    raw_environ,
    werkzeug_args,
    werkzeug_fails_too,
)
from tests.reliability.strategies import (
    header_values,
    query_pairs,
    raw_paths,
    raw_queries,
)
from werkzeug.datastructures import MultiDict

from cacheward.config import MAX_CREDENTIAL_LENGTH
from cacheward.core.query import parse_query
from cacheward.errors import BadRequestInput, MalformedQuery
from cacheward.flask.auth import credential_from
from cacheward.keys import format as key_format

BUDGETS = [
    pytest.param(200, id="ci"),
    pytest.param(20_000, id="long", marks=pytest.mark.slow),
]
#: End-to-end examples go through Flask and cost ~100x more each.
E2E_BUDGETS = [
    pytest.param(60, id="ci"),
    pytest.param(3_000, id="long", marks=pytest.mark.slow),
]


def budget(n: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- the catalogue ------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_bad_input(case: BadInput) -> None:
    outcome = run_case(case)
    assert outcome.exceptions == 0
    assert outcome.status == case.expect
    if outcome.status >= 400:
        assert not outcome.stored, "a refused request left an entry behind"


# --- query canonicalization ---------------------------------------------------------


@pytest.mark.parametrize("n", BUDGETS)
def test_parse_query_agrees_with_werkzeug_or_refuses(n: int) -> None:
    """Any query cacheward accepts parses exactly as ``request.args`` does."""

    @budget(n)
    @given(raw_queries)
    def run(query: bytes) -> None:
        try:
            pairs = parse_query(query.decode("latin-1"))
        except MalformedQuery:
            return
        assert MultiDict(pairs).to_dict(flat=False) == werkzeug_args(query)
        # And it is what the stdlib parser says on the decoded text, in order.
        assert list(pairs) == parse_qsl(query.decode(), keep_blank_values=True)

    run()


@pytest.mark.parametrize("reject_duplicates", [True, False])
@pytest.mark.parametrize("n", BUDGETS)
def test_differential_key_equality_iff_args_equality(n: int, reject_duplicates: bool) -> None:
    """Equal keys imply equal ``request.args``, and equal ``request.args`` give equal keys,
    modulo the parameters the key drops (credential parameters).

    ``request.args`` is compared as Werkzeug's ``MultiDict``: order across names does not
    count, order of a repeated name's values does (``args["a"]`` is the first value).
    """

    @budget(n)
    @given(query_pairs())
    def run(queries: tuple[bytes, bytes]) -> None:
        q1, q2 = queries
        k1 = core_key(q1, reject_duplicates=reject_duplicates)
        k2 = core_key(q2, reject_duplicates=reject_duplicates)
        if k1 is None or k2 is None:
            return
        assert (k1 == k2) == (kept_args(q1) == kept_args(q2)), (q1, q2)

    run()


@pytest.mark.parametrize("n", BUDGETS)
def test_differential_on_raw_byte_soup(n: int) -> None:
    """The same property on queries no encoder produced."""

    @budget(n)
    @given(raw_queries, raw_queries)
    def run(q1: bytes, q2: bytes) -> None:
        k1, k2 = core_key(q1), core_key(q2)
        if k1 is None or k2 is None:
            return
        assert (k1 == k2) == (kept_args(q1) == kept_args(q2)), (q1, q2)

    run()


# --- through the guard --------------------------------------------------------------


@pytest.mark.parametrize("n", E2E_BUDGETS)
def test_guard_differential_end_to_end(n: int) -> None:
    """Through Flask: a hit always echoes the args Werkzeug parsed for *this* request,
    requests with equal args share the entry, and another principal never does."""

    @budget(n)
    @given(query_pairs())
    def run(queries: tuple[bytes, bytes]) -> None:
        hostile = make_hostile()
        q1, q2 = queries
        s1, h1, b1 = hostile.call(query=q1)
        size = len(hostile.backend)
        s2, h2, b2 = hostile.call(query=q2)
        s3, _, b3 = hostile.call(query=q2, key="bob")
        assert hostile.exceptions == []
        assert 500 not in (s1, s2, s3)
        for status, body, query, who in ((s1, b1, q1, "alice"), (s2, b2, q2, "alice")):
            if status == 200:
                echoed = body_json(body)
                assert echoed["args"] == werkzeug_args(query), (q1, q2)
                assert echoed["principal"] == who
            else:
                assert status == 400
        if s2 != 200:
            assert len(hostile.backend) == size, "a refused request was stored"
        if s1 == s2 == 200:
            hit = "hit" in h2["Cache-Status"]
            if hit:
                assert werkzeug_args(q1) == werkzeug_args(q2), (q1, q2)
            elif "stored" in h1["Cache-Status"]:
                assert kept_args(q1) != kept_args(q2), (q1, q2, h2["Cache-Status"])
        if s3 == 200:
            assert body_json(b3)["principal"] == "bob"

    run()


@pytest.mark.parametrize("n", E2E_BUDGETS)
def test_no_500_for_raw_paths_queries_and_headers(n: int) -> None:
    """Arbitrary raw bytes in the path, the query and the headers: no 500, no escaped
    exception, nothing stored for a refused request, and a 200 only for a valid key."""

    @budget(n)
    @given(
        raw_paths,
        raw_queries,
        header_values,
        header_values,
        header_values,
        st.sampled_from(["alice", None]),
    )
    def run(
        path: bytes,
        query: bytes,
        api_key: bytes,
        authorization: bytes,
        language: bytes,
        who: str | None,
    ) -> None:
        hostile = make_hostile()
        headers = [("Accept-Language", language)]
        if who is None:
            headers += [("X-API-Key", api_key), ("Authorization", authorization)]
        status, _, body = hostile.call(path, query, headers, key=who)
        if status == 500 and werkzeug_fails_too(path, query, headers):
            return  # plain Flask fails alike (see werkzeug_fails_too)
        assert hostile.exceptions == [], hostile.exceptions
        assert status != 500
        if status >= 400:
            assert len(hostile.backend) == 0
        if status == 200:
            assert who == "alice", "an arbitrary credential was accepted"
            assert body_json(body)["principal"] == "alice"

    run()


# --- key parsing and header handling ------------------------------------------------


@pytest.mark.parametrize("n", BUDGETS)
def test_key_parse_never_raises_and_accepts_only_well_formed_keys(n: int) -> None:
    @budget(n)
    @given(
        st.one_of(
            st.text(max_size=80),
            st.text(alphabet="cw_abz27AZ09", min_size=55, max_size=57),
            st.builds(lambda k: "cw_" + k, st.text(min_size=52, max_size=52)),
        )
    )
    def run(text: str) -> None:
        parsed = key_format.parse(text)
        if parsed is not None:
            assert text.isascii() and len(text) == key_format.KEY_LENGTH
            assert text.startswith(f"cw_{parsed.id}_{parsed.secret}")
        assert isinstance(key_format.redact(text), str)
        assert parsed is None or parsed.secret not in key_format.redact(text)

    run()


@pytest.mark.parametrize("n", BUDGETS)
def test_credential_from_raises_only_client_errors(n: int) -> None:
    """Whatever the credential headers hold, ``credential_from`` returns one of them
    (stripped), or ``None``, or raises a 4xx ``BadRequestInput``."""
    hostile = make_hostile()
    state = hostile.ward.state(hostile.app)

    @budget(n)
    @given(header_values, header_values, raw_queries)
    def run(api_key: bytes, authorization: bytes, query: bytes) -> None:
        environ = raw_environ(
            b"/", query, [("X-API-Key", api_key), ("Authorization", authorization)]
        )
        try:
            credential = credential_from(environ, state)
        except BadRequestInput as e:
            assert 400 <= e.code < 500
            return
        if credential is not None:
            assert len(credential) <= MAX_CREDENTIAL_LENGTH
            assert credential in environ["HTTP_X_API_KEY"] + environ["HTTP_AUTHORIZATION"]

    run()


def test_docs_table_matches_outcomes() -> None:
    """``docs/security-testing.md`` shows what the guard really answers."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security-testing.md").read_text()
    shown = doc.split("<!-- bad-inputs:start -->\n", 1)[1].split("<!-- bad-inputs:end -->")[0]
    assert shown == table([run_case(c) for c in CASES])


# --- vary headers -------------------------------------------------------------------


def test_vary_header_with_trailing_nbsp_does_not_share_an_entry() -> None:
    hostile = make_hostile()
    hostile.call(b"/lang", headers=[("Accept-Language", b"fr\xa0")], key="bob")
    _, headers, body = hostile.call(b"/lang", headers=[("Accept-Language", b"fr")])
    assert body_json(body)["lang"] == "fr", "alice got the response made for 'fr\\xa0'"


@pytest.mark.parametrize("n", E2E_BUDGETS)
def test_vary_header_differential_end_to_end(n: int) -> None:
    """A hit on a ``vary=`` route always echoes the header value of *this* request."""
    tails = st.sampled_from([b" ", b"\t", b"\x0b", b"\x0c", b"\x1f", b"\x85", b"\xa0", b"a", b","])
    values = st.one_of(st.binary(max_size=4), st.lists(tails, max_size=3).map(b"".join))
    values = values.map(lambda b: b"fr" + b)

    @budget(n)
    @given(values, values)
    @example(b"fr\xa0", b"fr")
    def run(v1: bytes, v2: bytes) -> None:
        hostile = make_hostile()
        hostile.call(b"/lang", headers=[("Accept-Language", v1)], key="bob")
        status, headers, body = hostile.call(b"/lang", headers=[("Accept-Language", v2)])
        assert status == 200 and hostile.exceptions == []
        if "hit" in headers["Cache-Status"]:
            assert body_json(body)["lang"] == v2.decode("latin-1"), (v1, v2)

    run()
