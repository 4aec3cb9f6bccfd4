"""Key store faults (invariant 7): the SQLite key store locked by another connection, and
its disk full. The API keeps answering (200 or 503, never a hang or a 500), a bad or
revoked key never gets a 200, no response is mixed up, and recovery is automatic.

Each fault runs three phases of concurrent traffic through the leak oracle: before,
during and after. Figures are printed (``pytest -s``) and written to
``test-artifacts/reliability/``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from tests.reliability.loadapp import create_app
from tests.reliability.oracle import (
    Answer,
    Caller,
    Figures,
    bad_callers,
    drive,
    population,
    revoke,
)

from cacheward.errors import KeyStoreError
from cacheward.keys import SQLiteKeyStore

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability"
SIZES = [
    pytest.param((400, 8), id="ci"),
    pytest.param((20_000, 16), id="long", marks=pytest.mark.slow),
]


def sender(app: Flask):  # type: ignore[no-untyped-def]
    local = threading.local()

    def send(key: str, path: str) -> Answer:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = app.test_client()
        r = client.get(path, headers={"X-API-Key": key})
        return r.status_code, dict(r.headers), r.get_data()

    return send


def record(name: str, phases: dict[str, Figures], **extra: object) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    doc: dict[str, object] = {phase: f.summary() for phase, f in phases.items()}
    doc.update(extra)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\n{name}: " + json.dumps(doc))


def assert_safe(f: Figures, *, allow_503: bool, serves: bool = True) -> None:
    assert f.leaks == 0 and f.bad_200 == 0 and f.revoked_200 == 0, f.samples
    assert f.transport_errors == 0, f.samples
    allowed = {200, 401} | ({503} if allow_503 else set())
    assert set(f.statuses) <= allowed, f.summary()
    if serves:
        assert f.statuses[200] > 0, "the API stopped serving good keys"


def run_fault(
    name: str,
    store: SQLiteKeyStore,
    fault: contextlib.AbstractContextManager[object],
    size: tuple[int, int],
    *,
    serves_during: bool = True,
) -> tuple[dict[str, Figures], bool]:
    """Before, during and after ``fault``; also whether a revocation during it worked."""
    requests, threads = size
    app = create_app(keys=store)
    callers = population(store, 40, tenants=5)
    everyone: list[Caller] = callers + bad_callers(callers)
    send = sender(app)
    phases = {p: Figures() for p in ("before", "during", "after")}
    revoke(store, callers[0])  # revoked before any traffic
    drive(send, everyone, phases["before"], requests=requests, threads=threads, seconds=120)
    with fault:
        # Revoking during the fault must fail loudly, not half-way.
        try:
            revoke(store, callers[1])
            revoked_during = True
        except KeyStoreError:
            revoked_during = False
        drive(send, everyone, phases["during"], requests=requests, threads=threads, seconds=120)
    # Recovery, with no restart: a revocation and a rotation right after the fault.
    if not revoked_during:
        revoke(store, callers[1])
    revoke(store, callers[2])
    rotated = store.create(callers[3].principal, ["read"], tenant=callers[3].tenant)
    everyone.append(Caller(rotated.principal_id, rotated.tenant, rotated.plaintext, rotated.id))
    revoke(store, callers[3])
    drive(send, everyone, phases["after"], requests=requests, threads=threads, seconds=120)
    record(name, phases, revoked_during=revoked_during)
    assert_safe(phases["before"], allow_503=False)
    assert_safe(phases["during"], allow_503=True, serves=serves_during)
    assert_safe(phases["after"], allow_503=False)
    return phases, revoked_during


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holds ``BEGIN EXCLUSIVE`` for the whole block."""
    other = sqlite3.connect(path, isolation_level=None, timeout=5)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield other
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.mark.parametrize("size", SIZES)
def test_sqlite_key_store_locked(tmp_path: Path, size: tuple[int, int]) -> None:
    db = tmp_path / "keys.db"
    store = SQLiteKeyStore(db, busy_timeout=0.2)
    try:
        _, revoked_during = run_fault("sqlite-locked", store, exclusive_lock(db), size)
        assert not revoked_during, "a revocation went through an exclusive lock"
    finally:
        store.close()


@contextlib.contextmanager
def tiny_tmpfs(where: Path) -> Iterator[Path]:
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill ({done.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@contextlib.contextmanager
def disk_full(directory: Path) -> Iterator[Path]:
    """Fill the file system ``directory`` is on until writes fail with ENOSPC."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
                os.fsync(f.fileno())
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    try:
        yield filler
    finally:
        filler.unlink()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs to fill needs root")
@pytest.mark.parametrize("size", SIZES)
def test_sqlite_key_store_disk_full(tmp_path: Path, size: tuple[int, int]) -> None:
    with tiny_tmpfs(tmp_path / "tiny") as mount:
        store = SQLiteKeyStore(mount / "keys.db", busy_timeout=0.2)
        try:
            _, revoked_during = run_fault("sqlite-disk-full", store, disk_full(mount), size)
            assert not revoked_during, "a revocation was written to a full disk"
        finally:
            store.close()


@contextlib.contextmanager
def corrupted(store: SQLiteKeyStore) -> Iterator[None]:
    """The database header overwritten in place (a bad disk, a stray ``dd``); every
    connection reopens, so reads fail too. Restored at the end; the WAL is checkpointed
    first so that the restored file holds every committed key."""
    store.close()
    checkpoint = sqlite3.connect(store.path)
    checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    checkpoint.close()
    with open(store.path, "r+b") as f:
        header = f.read(100)
        f.seek(0)
        f.write(b"\xde\xad" * 50)
    store.close()
    try:
        yield
    finally:
        with open(store.path, "r+b") as f:
            f.write(header)
        store.close()


@pytest.mark.parametrize("size", SIZES)
def test_sqlite_key_store_corrupted(tmp_path: Path, size: tuple[int, int]) -> None:
    store = SQLiteKeyStore(tmp_path / "keys.db", busy_timeout=0.2)
    try:
        phases, _ = run_fault(
            "sqlite-corrupted", store, corrupted(store), size, serves_during=False
        )
        assert phases["during"].statuses[503] > 0, "reads did not see the corruption"
    finally:
        store.close()
