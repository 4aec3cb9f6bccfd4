"""One suite for every key store: each test runs against memory and SQLite."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cacheward.keys import KeyRecord, KeyStore, MemoryKeyStore, SQLiteKeyStore
from cacheward.keys import format as key_format
from cacheward.keys import store as store_module

STORES = ["memory", "sqlite"]


def make_store(kind: str, tmp_path: Path, base: type[KeyStore] | None = None) -> KeyStore:
    if kind == "memory":
        return (base or MemoryKeyStore)()
    cls = base or SQLiteKeyStore
    return cls(tmp_path / "keys.db")  # type: ignore[call-arg]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KeyStore]:
    s = make_store(request.param, tmp_path)
    yield s
    if isinstance(s, SQLiteKeyStore):
        s.close()


def test_create_then_verify(store: KeyStore) -> None:
    issued = store.create("alice", scopes=["accounts:read"])
    principal = store.verify(issued.plaintext)
    assert principal is not None
    assert principal.id == "alice"
    assert principal.key_id == issued.id
    assert principal.scopes == frozenset({"accounts:read"})
    assert principal.tenant is None


def test_scopes_and_tenant_round_trip(store: KeyStore) -> None:
    issued = store.create("bob", scopes=["b:write", "a:read", "a:read"], tenant="acme")
    principal = store.verify(issued.plaintext)
    assert principal is not None
    assert principal.tenant == "acme"
    assert principal.scopes == frozenset({"a:read", "b:write"})
    assert principal.has_scopes(["a:read"])
    assert not principal.has_scopes(["admin"])


def test_no_scopes(store: KeyStore) -> None:
    principal = store.verify(store.create("carol").plaintext)
    assert principal is not None and principal.scopes == frozenset()


def test_empty_principal_is_refused(store: KeyStore) -> None:
    with pytest.raises(ValueError):
        store.create("")


def test_wrong_secret_is_refused(store: KeyStore) -> None:
    issued = store.create("alice")
    other, _ = key_format.generate(issued.id)  # same id, another secret, valid checksum
    assert key_format.parse(other) is not None
    assert store.verify(other) is None


def test_unknown_id_is_refused(store: KeyStore) -> None:
    store.create("alice")
    assert store.verify(key_format.generate()[0]) is None


def test_expiry(store: KeyStore, monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    issued = store.create("alice", expires=now + 3600)
    assert store.verify(issued.plaintext) is not None
    monkeypatch.setattr(time, "time", lambda: now + 3601)
    assert store.verify(issued.plaintext) is None
    assert not store.list()[0].active


def test_already_expired(store: KeyStore) -> None:
    assert store.verify(store.create("alice", expires=time.time() - 1).plaintext) is None


def test_revocation_takes_effect_at_once(store: KeyStore) -> None:
    issued = store.create("alice")
    assert store.verify(issued.plaintext) is not None
    assert store.revoke(issued.id) is True
    assert store.verify(issued.plaintext) is None
    assert store.revoke(issued.id) is False  # already revoked
    assert store.revoke("nosuchkey234") is False
    record = store.get(issued.id)
    assert record is not None and record.revoked is not None and not record.active


def test_rotation(store: KeyStore) -> None:
    old = store.create("alice", scopes=["s"])
    new = store.create("alice", scopes=["s"])
    assert old.id != new.id
    assert store.verify(old.plaintext) is not None
    assert store.verify(new.plaintext) is not None
    store.revoke(old.id)
    assert store.verify(old.plaintext) is None
    principal = store.verify(new.plaintext)
    assert principal is not None and principal.id == "alice" and principal.key_id == new.id


def test_list_newest_first_and_by_principal(store: KeyStore) -> None:
    a1 = store.create("alice")
    b1 = store.create("bob")
    a2 = store.create("alice")
    assert [r.id for r in store.list()] == [a2.id, b1.id, a1.id]
    assert [r.id for r in store.list("alice")] == [a2.id, a1.id]
    assert store.list("nobody") == []


def test_get(store: KeyStore) -> None:
    issued = store.create("alice", tenant="t")
    record = store.get(issued.id)
    assert isinstance(record, KeyRecord)
    assert (record.principal_id, record.tenant, record.active) == ("alice", "t", True)
    assert store.get("nosuchkey234") is None


def test_nothing_exposes_the_secret(store: KeyStore) -> None:
    issued = store.create("alice", scopes=["s"], tenant="t")
    secret = key_format.parse(issued.plaintext)
    assert secret is not None
    store.verify(issued.plaintext)
    record = store.get(issued.id)
    principal = store.verify(issued.plaintext)
    shown = [issued, record, principal, store, *store.list(), *store.list("alice")]
    for thing in shown:
        for text in (repr(thing), str(thing)):
            assert issued.plaintext not in text
            assert secret.secret not in text
    assert all(secret.secret not in repr(vars(r)) for r in store.list())
    assert record is not None and record.digest not in repr(record)


def test_only_a_digest_is_stored(store: KeyStore, tmp_path: Path) -> None:
    issued = store.create("alice")
    parsed = key_format.parse(issued.plaintext)
    assert parsed is not None
    if isinstance(store, SQLiteKeyStore):
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("keys.db*"))
        assert parsed.secret.encode() not in raw
        assert issued.plaintext.encode() not in raw
    record = store.get(issued.id)
    assert record is not None and record.digest == store_module.secret_digest(parsed.secret)


def test_verify_compares_in_constant_time(store: KeyStore, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, object]] = []
    real = store_module.constant_time_equal

    def spy(a: bytes | str, b: bytes | str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(store_module, "constant_time_equal", spy)
    issued = store.create("alice")
    assert store.verify(issued.plaintext) is not None
    assert len(calls) == 1
    # Unknown ids cost the same comparison, so timing does not tell ids apart.
    assert store.verify(key_format.generate()[0]) is None
    assert len(calls) == 2


@pytest.mark.parametrize("kind", STORES)
def test_malformed_keys_never_reach_the_store(kind: str, tmp_path: Path) -> None:
    base: type[KeyStore] = MemoryKeyStore if kind == "memory" else SQLiteKeyStore
    gets: list[str] = []

    class Counting(base):  # type: ignore[valid-type,misc]
        def _get(self, key_id: str) -> KeyRecord | None:
            gets.append(key_id)
            return super()._get(key_id)  # type: ignore[no-any-return]

    store = make_store(kind, tmp_path, Counting)
    issued = store.create("alice")
    good = issued.plaintext
    bad = [
        good[:-1],
        good[:20],
        good + "x",
        "x" + good,
        good[:-1] + ("A" if good[-1] != "A" else "B"),
        good[:10] + ("Z" if good[10] != "Z" else "Y") + good[11:],
        good.upper(),
        "",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "Bearer " + good,
    ]
    for plaintext in bad:
        assert store.verify(plaintext) is None
    assert gets == []
    assert store.verify(good) is not None
    assert gets == [issued.id]
    if isinstance(store, SQLiteKeyStore):
        store.close()


def test_last_used_is_written_at_most_once_a_minute(
    store: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = store.create("alice")
    record = store.get(issued.id)
    assert record is not None and record.last_used is None
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    store.verify(issued.plaintext)
    record = store.get(issued.id)
    assert record is not None and record.last_used == now
    monkeypatch.setattr(time, "time", lambda: now + 59)
    store.verify(issued.plaintext)
    record = store.get(issued.id)
    assert record is not None and record.last_used == now
    monkeypatch.setattr(time, "time", lambda: now + 61)
    store.verify(issued.plaintext)
    record = store.get(issued.id)
    assert record is not None and record.last_used == now + 61


def test_failed_verify_does_not_touch(store: KeyStore) -> None:
    issued = store.create("alice")
    other, _ = key_format.generate(issued.id)
    store.verify(other)
    store.revoke(issued.id)
    store.verify(issued.plaintext)
    record = store.get(issued.id)
    assert record is not None and record.last_used is None
