"""A key store in a JSON file, shared by every gunicorn worker and the test process.

For the proxy suite only (``SQLiteKeyStore`` is the real cross-process store): the test
writes keys and revocations, the workers read the file again whenever it changes.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from cacheward.keys.store import KeyRecord, KeyStore


class FileKeyStore(KeyStore):
    """Key records in one JSON file, replaced atomically on every write."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._records: dict[str, KeyRecord] = {}

    def _load(self) -> dict[str, KeyRecord]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
        with self._lock:
            if stamp != self._seen:
                raw: list[dict[str, Any]] = json.loads(self.path.read_text())
                self._records = {r["id"]: _record(r) for r in raw}
                self._seen = stamp
            return self._records

    @contextmanager
    def _writing(self) -> Iterator[dict[str, KeyRecord]]:
        lock = self.path.with_suffix(".lock")
        with lock.open("w") as fd:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._seen = None
            records = dict(self._load())
            yield records
            tmp = self.path.with_suffix(".tmp")
            rows = [{**asdict(r), "scopes": sorted(r.scopes)} for r in records.values()]
            tmp.write_text(json.dumps(rows))
            os.replace(tmp, self.path)

    def _insert(self, record: KeyRecord) -> None:
        with self._writing() as records:
            records[record.id] = record

    def _get(self, key_id: str) -> KeyRecord | None:
        return self._load().get(key_id)

    def revoke(self, key_id: str) -> bool:
        import time

        with self._writing() as records:
            record = records.get(key_id)
            if record is None or record.revoked is not None:
                return False
            records[key_id] = replace(record, revoked=time.time())
            return True

    def list(self, principal: str | None = None) -> list[KeyRecord]:
        records = [r for r in self._load().values() if principal in (None, r.principal_id)]
        return sorted(records, key=lambda r: r.created, reverse=True)


def _record(raw: dict[str, Any]) -> KeyRecord:
    return KeyRecord(**{**raw, "scopes": frozenset(raw["scopes"])})
