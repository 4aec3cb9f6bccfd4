"""What only the SQLite store must do: threads, processes, locks, schema, errors."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from cacheward.errors import ConfigurationError, KeyStoreError
from cacheward.keys import SQLiteKeyStore
from cacheward.keys import sqlite as sqlite_module


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "keys.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLiteKeyStore]:
    s = SQLiteKeyStore(db_path, busy_timeout=0.2)
    yield s
    s.close()


def test_keys_survive_reopening(db_path: Path) -> None:
    first = SQLiteKeyStore(db_path)
    issued = first.create("alice", scopes=["s"])
    first.close()
    second = SQLiteKeyStore(db_path)
    principal = second.verify(issued.plaintext)
    assert principal is not None and principal.scopes == frozenset({"s"})
    second.close()


def test_wal_mode_and_schema_version(store: SQLiteKeyStore, db_path: Path) -> None:
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT version FROM cacheward_schema").fetchall() == [
        (sqlite_module.SCHEMA_VERSION,)
    ]
    db.close()


def test_newer_schema_is_refused(db_path: Path) -> None:
    SQLiteKeyStore(db_path).close()
    db = sqlite3.connect(db_path)
    db.execute("UPDATE cacheward_schema SET version = ?", (sqlite_module.SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(KeyStoreError, match="newer"):
        SQLiteKeyStore(db_path)


def test_in_memory_database_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="MemoryKeyStore"):
        SQLiteKeyStore(":memory:")


def test_unopenable_path_is_a_key_store_error(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="could not open"):
        SQLiteKeyStore(tmp_path / "no" / "such" / "dir" / "keys.db")


def test_not_a_database_is_a_key_store_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(KeyStoreError):
        SQLiteKeyStore(path)


def test_usable_again_after_close(store: SQLiteKeyStore) -> None:
    issued = store.create("alice")
    store.close()
    assert store.verify(issued.plaintext) is not None


def test_revocation_by_another_store_is_seen_on_next_verify(db_path: Path) -> None:
    reader = SQLiteKeyStore(db_path)
    writer = SQLiteKeyStore(db_path)
    issued = writer.create("alice")
    for _ in range(3):  # warm the reader's cache
        assert reader.verify(issued.plaintext) is not None
    writer.revoke(issued.id)
    assert reader.verify(issued.plaintext) is None
    reader.close()
    writer.close()


def test_threads_verifying_while_another_revokes(store: SQLiteKeyStore) -> None:
    issued = store.create("alice")
    other = store.create("bob")
    revoking = threading.Event()
    revoked = threading.Event()
    start = threading.Barrier(3)
    errors: list[str] = []
    counts = [0, 0]

    def hammer(n: int) -> None:
        start.wait()
        deadline = time.monotonic() + 10
        after = 0
        while after < 200 and time.monotonic() < deadline:
            was_revoked = revoked.is_set()
            try:
                principal = store.verify(issued.plaintext)
                bob = store.verify(other.plaintext)
            except Exception as exc:
                errors.append(repr(exc))
                return
            # A verify that overlapped the revoke may answer either way; one that ended
            # before it began must accept, one that began after it ended must refuse.
            revoking_yet = revoking.is_set()
            if bob is None:
                errors.append("a live key was refused")
            if was_revoked:
                after += 1
                if principal is not None:
                    errors.append("a revoked key was accepted")
            elif not revoking_yet and principal is None:
                errors.append("a key was refused before its revocation")
            counts[n] += 1

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    start.wait()
    time.sleep(0.05)
    revoking.set()
    assert store.revoke(issued.id)
    revoked.set()
    for t in threads:
        t.join()
    assert errors == []
    assert all(c > 200 for c in counts), counts


def _verify_in_child(path: str, plaintext: str, pipe: Connection) -> None:
    """Run in a spawned process: verify, wait for the parent to revoke, verify again."""
    store = SQLiteKeyStore(path)
    pipe.send(store.verify(plaintext) is not None)
    pipe.send(store.verify(plaintext) is not None)  # now from the cache
    assert pipe.recv() == "revoked"
    pipe.send(store.verify(plaintext) is not None)
    store.close()


def test_revocation_in_one_process_is_seen_by_another(db_path: Path) -> None:
    store = SQLiteKeyStore(db_path)
    issued = store.create("alice")
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_verify_in_child, args=(str(db_path), issued.plaintext, child))
    process.start()
    try:
        assert parent.poll(30), "child did not answer"
        assert parent.recv() is True
        assert parent.recv() is True
        assert store.revoke(issued.id)
        parent.send("revoked")
        assert parent.poll(30), "child did not answer"
        assert parent.recv() is False
    finally:
        process.join(30)
        if process.is_alive():
            process.kill()
    assert process.exitcode == 0
    store.close()


def _verify_after_fork(store: SQLiteKeyStore, plaintext: str, pipe: Connection) -> None:
    """Run in a forked child that inherited ``store`` with an open connection."""
    pipe.send(store.verify(plaintext) is not None)
    assert pipe.recv() == "revoked"
    pipe.send(store.verify(plaintext) is not None)
    store.close()


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs os.fork")
def test_a_forked_child_opens_its_own_connection(db_path: Path) -> None:
    store = SQLiteKeyStore(db_path)
    issued = store.create("alice")
    assert store.verify(issued.plaintext) is not None  # the parent's connection is open
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
        process = ctx.Process(target=_verify_after_fork, args=(store, issued.plaintext, child))
        process.start()
    try:
        assert parent.poll(30) and parent.recv() is True
        store.revoke(issued.id)
        parent.send("revoked")
        assert parent.poll(30) and parent.recv() is False
    finally:
        process.join(30)
        if process.is_alive():
            process.kill()
    assert process.exitcode == 0
    # The parent's connection still works after the child closed its own.
    assert store.verify(issued.plaintext) is None
    assert store.verify(store.create("bob").plaintext) is not None
    store.close()


@pytest.fixture
def locked(db_path: Path, store: SQLiteKeyStore) -> Iterator[sqlite3.Connection]:
    """Another connection holding the write lock."""
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    yield other
    other.execute("ROLLBACK")
    other.close()


def test_a_locked_database_fails_writes_after_the_busy_timeout(
    store: SQLiteKeyStore, locked: sqlite3.Connection
) -> None:
    issued_before = None
    with pytest.raises(KeyStoreError, match="could not create a key") as info:
        issued_before = store.create("alice")
    assert issued_before is None
    assert "locked" in str(info.value)
    with pytest.raises(KeyStoreError, match="could not revoke"):
        store.revoke("abcdefgh2345")


def test_a_writer_waits_for_a_lock_released_within_the_busy_timeout(db_path: Path) -> None:
    """The busy timeout is a wait, not a failure: a lock released meanwhile lets the write
    through (the counterpart of the test above, with no timing asserted)."""
    store = SQLiteKeyStore(db_path, busy_timeout=30)
    store.create("warm")  # the schema exists before the lock is taken
    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    events: list[str] = []

    def let_go() -> None:
        events.append("releasing")
        other.execute("ROLLBACK")

    release = threading.Timer(0.1, let_go)
    release.start()
    try:
        issued = store.create("alice")
        events.append("written")
    finally:
        release.join(30)
        other.close()
    assert events == ["releasing", "written"]  # it waited for the other writer
    assert store.verify(issued.plaintext) is not None
    store.close()


def test_a_write_locked_database_still_verifies_right(db_path: Path) -> None:
    store = SQLiteKeyStore(db_path, busy_timeout=0.2)
    issued = store.create("alice")
    revoked = store.create("bob")
    store.revoke(revoked.id)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        # WAL readers do not wait for writers; last_used is skipped, not awaited...
        started = time.monotonic()
        principal = store.verify(issued.plaintext)
        assert time.monotonic() - started < 1
        assert principal is not None and principal.id == "alice"
        # ...and not retried on every request while the lock lasts.
        started = time.monotonic()
        assert store.verify(issued.plaintext) is not None
        assert time.monotonic() - started < 0.05
        assert store.verify(revoked.plaintext) is None
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.close()


def test_an_exclusively_locked_database_is_an_error_not_a_refusal(db_path: Path) -> None:
    store = SQLiteKeyStore(db_path, busy_timeout=0.2)
    issued = store.create("alice")
    # Exclusive locking mode needs every other connection closed first.
    store.close()
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")
    other.execute("UPDATE cacheward_keys SET last_used = 0")
    other.execute("COMMIT")  # the lock is kept until the connection closes
    try:
        started = time.monotonic()
        with pytest.raises(KeyStoreError) as info:
            store.verify(issued.plaintext)
        assert time.monotonic() - started < 5
        assert "locked" in str(info.value)
        assert issued.plaintext not in str(info.value)
    finally:
        other.close()
    assert store.verify(issued.plaintext) is not None
    store.close()
