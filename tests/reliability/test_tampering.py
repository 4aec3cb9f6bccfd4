"""Tampering with stored entries (invariants 1 and 6): entries replayed after a purge, a
purge racing a miss, and entries moved between keys are never served.

The memory backend lives in the app's own process, so nobody outside it can write to it;
what can go wrong there is ordering (a purge while a response is being computed, a stale
entry put back). The Redis variants, where other services can write, are in
``test_tampering_redis.py``.
"""

from __future__ import annotations

import pytest
from flask import jsonify
from tests.reliability.hostile import Hostile, body_json, make_hostile

from cacheward import current_principal


@pytest.fixture
def hostile() -> Hostile:
    return make_hostile()


def _entries(hostile: Hostile) -> dict[str, tuple[object, int]]:
    return hostile.backend._entries  # type: ignore[return-value]


def test_entry_replayed_after_purge_is_not_served(hostile: Hostile) -> None:
    status, headers, _ = hostile.call(query=b"a=1")
    assert status == 200 and "stored" in headers["Cache-Status"]
    saved = dict(_entries(hostile))
    hostile.ward.purge(principal="alice", app=hostile.app)
    _entries(hostile).update(saved)  # the old bytes come back, as from a snapshot
    _, headers, _ = hostile.call(query=b"a=1")
    assert "hit" not in headers["Cache-Status"]


@pytest.mark.parametrize("purge", ["principal", "tag", "everything"])
def test_purge_during_a_miss_is_not_undone_by_its_store(purge: str) -> None:
    """A purge that lands while the view computes must win: the response computed from
    pre-purge data is stamped with the old generation and never served."""
    hostile = make_hostile()
    app, ward = hostile.app, hostile.ward
    runs = {"n": 0}

    @app.get("/racy")
    @ward.protected("read")
    @ward.cached(ttl=60, tags=["racy"])
    def racy():  # type: ignore[no-untyped-def]
        runs["n"] += 1
        if runs["n"] == 1:
            if purge == "principal":
                ward.purge(principal="alice")
            elif purge == "tag":
                ward.purge(tag="racy")
            else:
                ward.purge()
        return jsonify(principal=current_principal.id, run=runs["n"])

    first = hostile.call(b"/racy")
    second = hostile.call(b"/racy")
    assert body_json(first[2])["run"] == 1
    assert body_json(second[2])["run"] == 2, "a pre-purge response was served after the purge"


def test_revoked_key_never_reaches_a_stored_entry(hostile: Hostile) -> None:
    assert hostile.call(query=b"a=1")[0] == 200
    record = hostile.keys.list("alice")[0]
    hostile.keys.revoke(record.id)
    status, headers, body = hostile.call(query=b"a=1")
    assert status == 401 and b"alice" not in body
    assert "Cache-Status" not in headers


def test_entry_swapped_across_principals_is_not_served(hostile: Hostile) -> None:
    assert hostile.call(query=b"a=1", key="alice")[0] == 200
    (alice_digest,) = _entries(hostile)
    assert hostile.call(query=b"a=1", key="bob")[0] == 200
    (bob_digest,) = set(_entries(hostile)) - {alice_digest}
    _entries(hostile)[bob_digest] = _entries(hostile)[alice_digest]
    status, _, body = hostile.call(query=b"a=1", key="bob")
    assert status == 200 and body_json(body)["principal"] == "bob"
