"""A key store in one SQLite file, shared by threads and processes.

Each thread gets its own connection (:class:`threading.local`); the file is in WAL mode,
so readers never wait for a writer, and every write runs in ``BEGIN IMMEDIATE`` so that
two writers queue on the busy timeout instead of failing half-way. Only digests of
secrets are stored.

Each connection keeps a small cache of the records it has read. Before every lookup it
asks ``PRAGMA data_version``, which changes whenever *another* connection (another
thread or process) has committed; the cache is then dropped, so a revocation anywhere is
seen by the next :meth:`~SQLiteKeyStore.verify`. A connection's own writes update its
cache directly.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, KeyStoreError
from .store import KeyRecord, KeyStore

if TYPE_CHECKING:
    from flask import Flask

#: The schema this code reads and writes; newer files are refused, not misread.
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cacheward_schema (
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cacheward_keys (
    id TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL,
    tenant TEXT,
    scopes TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL,
    revoked REAL,
    last_used REAL,
    digest TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cacheward_keys_principal ON cacheward_keys (principal_id);
"""

_COLUMNS = "id, principal_id, tenant, scopes, created, expires, revoked, last_used, digest"
_SELECT_ONE = f"SELECT {_COLUMNS} FROM cacheward_keys WHERE id = ?"  # noqa: S608 (constant)

#: Records a connection remembers before it starts over.
_CACHE_SIZE = 4096
#: Milliseconds a ``last_used`` write waits for the lock before giving up (it is optional).
_TOUCH_TIMEOUT_MS = 100


@dataclass
class _Conn:
    """One thread's connection and what it has cached."""

    db: sqlite3.Connection
    pid: int
    data_version: int = -1
    records: dict[str, KeyRecord] = field(default_factory=dict)
    #: When a ``last_used`` write last failed, per key: not retried within the interval.
    touch_failed: dict[str, float] = field(default_factory=dict)


def _record(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(
        id=row[0],
        principal_id=row[1],
        tenant=row[2],
        scopes=frozenset(json.loads(row[3])),
        created=row[4],
        expires=row[5],
        revoked=row[6],
        last_used=row[7],
        digest=row[8],
    )


def _resolve(path: str, app: Flask | None) -> str:
    """``path`` made absolute against the app's instance folder.

    A path relative to the current directory names a different file for the server,
    for ``flask cacheward keys`` run from elsewhere and for a test: the CLI then printed
    "No keys." and created an empty database. So a relative path needs ``app``.
    """
    if os.path.isabs(path):
        return path
    if app is None:
        raise ConfigurationError(
            f"SQLiteKeyStore({path!r}): a relative path would depend on the current"
            " directory; pass app=app to keep it in app.instance_path, or an absolute path"
        )
    os.makedirs(app.instance_path, exist_ok=True)
    return os.path.join(app.instance_path, path)


class SQLiteKeyStore(KeyStore):
    """API keys in an SQLite file.

    :param path: the database file; created with its schema if missing. A relative
        path is resolved against ``app.instance_path`` (the folder is created), so the
        app, ``flask cacheward keys`` and a test all open the same file wherever they
        are run from; without ``app`` a relative path is refused.
    :param app: the Flask app whose instance folder holds a relative ``path``.
    :param busy_timeout: seconds to wait for another writer before raising
        :class:`~cacheward.errors.KeyStoreError`.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        app: Flask | None = None,
    ) -> None:
        path = os.fspath(path)
        if path == ":memory:" or path.startswith("file::memory:") or not path:
            raise ConfigurationError(
                "SQLiteKeyStore needs a file: each thread opens its own connection, and"
                " an in-memory database is private to one. Use MemoryKeyStore instead."
            )
        path = _resolve(path, app)
        if busy_timeout < 0:
            raise ConfigurationError("SQLiteKeyStore busy_timeout must not be negative.")
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[_Conn] = []
        self._all_lock = threading.Lock()
        try:
            with self._errors("open"):
                self._migrate(self._conn().db)
        finally:
            # Apps are often built in a parent that then forks (gunicorn --preload):
            # leave no connection open for the children to inherit.
            self.close()

    def __repr__(self) -> str:
        return f"SQLiteKeyStore({self.path!r})"

    # -- connections -------------------------------------------------------------------

    def _conn(self) -> _Conn:
        conn: _Conn | None = getattr(self._local, "conn", None)
        pid = os.getpid()
        if conn is not None and conn.pid == pid:
            return conn
        # First use in this thread, or in a child after fork: a connection must never
        # cross a fork, so the inherited one is kept (in ``_all``) but never used, nor
        # closed, since closing it would drop the POSIX locks of this process's others.
        with self._errors("open"):
            db = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,  # we issue BEGIN ourselves
                check_same_thread=False,  # only so that close() may close every one
            )
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
            except BaseException:
                db.close()
                raise
        conn = _Conn(db, pid)
        self._local.conn = conn
        with self._all_lock:
            self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection this store opened in this process; using the store
        again reopens them."""
        pid = os.getpid()
        with self._all_lock:
            mine = [c for c in self._all if c.pid == pid]
            self._all = [c for c in self._all if c.pid != pid]
            self._local = threading.local()
        for conn in mine:
            conn.db.close()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn :mod:`sqlite3` errors into :class:`KeyStoreError` (never quoting a key)."""
        try:
            yield
        except sqlite3.Error as exc:
            raise KeyStoreError(
                f"SQLite key store {self.path!r} could not {action}: {type(exc).__name__}: {exc}"
            ) from exc

    @contextmanager
    def _write(self, action: str) -> Iterator[_Conn]:
        """A write transaction taken with ``BEGIN IMMEDIATE``, committed or rolled back."""
        conn = self._conn()
        with self._errors(action):
            conn.db.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.db.execute("ROLLBACK")
                raise
            conn.db.execute("COMMIT")

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            row = db.execute("SELECT MAX(version) FROM cacheward_schema").fetchone()
            version = row[0]
            if version is None:
                db.execute("INSERT INTO cacheward_schema (version) VALUES (?)", (SCHEMA_VERSION,))
            elif version > SCHEMA_VERSION:
                raise KeyStoreError(
                    f"SQLite key store {self.path!r} has schema version {version}, newer"
                    f" than this cacheward understands ({SCHEMA_VERSION}); upgrade cacheward."
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- the KeyStore interface --------------------------------------------------------

    def _insert(self, record: KeyRecord) -> None:
        with self._write("create a key") as conn:
            conn.db.execute(
                f"INSERT INTO cacheward_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                (
                    record.id,
                    record.principal_id,
                    record.tenant,
                    json.dumps(sorted(record.scopes)),
                    record.created,
                    record.expires,
                    record.revoked,
                    record.last_used,
                    record.digest,
                ),
            )

    def _get(self, key_id: str) -> KeyRecord | None:
        conn = self._conn()
        with self._errors("read a key"):
            # Another connection's commit changes data_version; ours do not, and we
            # keep our cache right ourselves when we write.
            version = conn.db.execute("PRAGMA data_version").fetchone()[0]
            if version != conn.data_version:
                conn.records.clear()
                conn.data_version = version
            else:
                cached = conn.records.get(key_id)
                if cached is not None:
                    return cached
            row = conn.db.execute(_SELECT_ONE, (key_id,)).fetchone()
        if row is None:
            return None
        record = _record(row)
        if len(conn.records) >= _CACHE_SIZE:
            conn.records.clear()
        conn.records[key_id] = record
        return record

    def _touch(self, key_id: str, now: float) -> None:
        # Best effort with a short wait: the key was already verified, and a busy
        # database must not turn a good request into an error or a slow one.
        conn = self._conn()
        failed = conn.touch_failed.get(key_id)
        if failed is not None and now - failed < self.last_used_interval:
            return
        db = conn.db
        try:
            db.execute(f"PRAGMA busy_timeout = {_TOUCH_TIMEOUT_MS}")
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("UPDATE cacheward_keys SET last_used = ? WHERE id = ?", (now, key_id))
                db.execute("COMMIT")
            finally:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        except sqlite3.Error:
            if len(conn.touch_failed) >= _CACHE_SIZE:
                conn.touch_failed.clear()
            conn.touch_failed[key_id] = now
            return
        conn.touch_failed.pop(key_id, None)
        cached = conn.records.get(key_id)
        if cached is not None:
            conn.records[key_id] = replace(cached, last_used=now)

    def revoke(self, key_id: str) -> bool:
        now = time.time()
        with self._write("revoke a key") as conn:
            cursor = conn.db.execute(
                "UPDATE cacheward_keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
                (now, key_id),
            )
            conn.records.pop(key_id, None)
            return cursor.rowcount == 1

    def list(self, principal: str | None = None) -> list[KeyRecord]:
        db = self._conn().db
        with self._errors("list keys"):
            if principal is None:
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM cacheward_keys ORDER BY created DESC, rowid DESC"  # noqa: S608
                ).fetchall()
            else:
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM cacheward_keys WHERE principal_id = ?"  # noqa: S608
                    " ORDER BY created DESC, rowid DESC",
                    (principal,),
                ).fetchall()
        return [_record(row) for row in rows]
