"""The guard on a shared Redis that someone else can write (invariants 2 and 6).

Through the whole guard, not only the backend (whose own attack tests are in
``tests/backends/test_redis_break.py``): an entry edited in place, copied under another
principal's key, put back after a purge, or replaced by a pickle is a miss (the view runs
again, for the right principal), never an error. Then the whole keyspace, keys and
values, is searched for the raw API keys and their secret parts (RedisKeyStore included).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from tests.reliability.hostile import SECRET, Hostile, body_json, make_hostile
from tests.support.redis import RedisServer

from cacheward.backends.redis import RedisBackend
from cacheward.core.secret import Secrets
from cacheward.keys import format as key_format


@pytest.fixture(scope="module")
def redis_server() -> Iterator[Any]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def raw(redis_server: Any) -> Iterator[Any]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def hostile(redis_server: Any, raw: Any) -> Iterator[Hostile]:
    backend = RedisBackend.from_url(redis_server.url, Secrets(SECRET))
    yield make_hostile(backend=backend)
    backend.close()


def entry_names(raw: Any) -> list[bytes]:
    return sorted(raw.scan_iter(match="*:e:*"))


def entry_of(hostile: Hostile, raw: Any, principal: str) -> bytes:
    scope = hostile.ward.state(hostile.app).principal_scope(principal)
    (name,) = [n for n in entry_names(raw) if scope.encode() in n]
    return name  # type: ignore[no-any-return]


def assert_fresh(hostile: Hostile, who: str) -> None:
    status, headers, body = hostile.call(query=b"a=1", key=who)
    assert status == 200 and body_json(body)["principal"] == who
    assert "hit" not in headers["Cache-Status"], "a tampered entry was served"
    assert hostile.exceptions == []


def test_stored_then_hit(hostile: Hostile, raw: Any) -> None:
    hostile.call(query=b"a=1")
    assert "hit" in hostile.call(query=b"a=1")[1]["Cache-Status"]
    assert len(entry_names(raw)) == 1


def test_edited_entry_is_a_miss(hostile: Hostile, raw: Any) -> None:
    hostile.call(query=b"a=1")
    name = entry_of(hostile, raw, "alice")
    blob = bytearray(raw.get(name))
    at = blob.index(b'"alice"')
    blob[at + 1 : at + 6] = b"bobby"
    raw.set(name, bytes(blob), keepttl=True)
    assert_fresh(hostile, "alice")


def test_entry_copied_to_another_principal_is_a_miss(hostile: Hostile, raw: Any) -> None:
    hostile.call(query=b"a=1", key="alice")
    hostile.call(query=b"a=1", key="bob")
    raw.set(entry_of(hostile, raw, "bob"), raw.get(entry_of(hostile, raw, "alice")))
    assert_fresh(hostile, "bob")


def test_entry_replayed_after_purge_is_a_miss(hostile: Hostile, raw: Any) -> None:
    hostile.call(query=b"a=1")
    name = entry_of(hostile, raw, "alice")
    saved = raw.get(name)
    hostile.ward.purge(principal="alice", app=hostile.app)
    raw.set(name, saved, ex=60)
    assert_fresh(hostile, "alice")


class Boom:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def test_pickle_written_into_redis_is_never_loaded(
    hostile: Hostile, raw: Any, tmp_path: Path
) -> None:
    hostile.call(query=b"a=1")
    name = entry_of(hostile, raw, "alice")
    marker = tmp_path / "unpickled"
    for blob in (pickle.dumps(Boom(str(marker))), b"!" + pickle.dumps(Boom(str(marker)))):
        raw.set(name, blob, ex=60)
        assert_fresh(hostile, "alice")
    assert not marker.exists()


def test_no_raw_key_in_the_redis_keyspace(redis_server: Any, raw: Any) -> None:
    """Entries, generations, locks and a RedisKeyStore: no key, no secret part."""
    from cacheward.keys import RedisKeyStore  # type: ignore[attr-defined]

    keys = RedisKeyStore(redis_server.url)
    backend = RedisBackend.from_url(redis_server.url, Secrets(SECRET))
    try:
        hostile = make_hostile(backend=backend, keys=keys)
        plaintexts = [hostile.alice, hostile.bob, hostile.revoked]
        for who in ("alice", "bob", "revoked"):
            for query in (b"a=1", b"a=2", b"api_key=" + getattr(hostile, who).encode()):
                hostile.call(query=query, key=who)
                hostile.call(b"/lang", headers=[("Accept-Language", b"fr")], key=who)
        hostile.ward.purge(principal="alice", app=hostile.app)
        dump = []
        for name in raw.scan_iter(match="*"):
            dump.append(name)
            kind = raw.type(name)
            if kind == b"string":
                dump.append(raw.get(name))
            elif kind == b"hash":
                dump += [b"%s=%s" % kv for kv in raw.hgetall(name).items()]
            elif kind in (b"set", b"zset", b"list"):
                dump += [str(raw.dump(name)).encode()]
        hay = b"\n".join(d for d in dump if d)
        assert len(entry_names(raw)) >= 2, "nothing was cached"
        for key in plaintexts:
            parsed = key_format.parse(key)
            assert parsed is not None
            for needle in (key, parsed.secret, key[-12:]):
                assert needle.encode() not in hay
    finally:
        backend.close()
        keys.close()
