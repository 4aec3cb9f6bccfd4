"""Run the demo: serve both APIs on loopback, issue keys, scan both, stop everything.

:class:`Demo` owns every resource it starts (a temporary directory holding the SQLite
key store, two werkzeug servers in threads) and releases them in :meth:`Demo.close`,
which is idempotent and runs on ``with`` exit, on errors and on Ctrl-C alike.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from .._serving import ThreadedServer as Server
from .._serving import fast_switching
from ..core.finding import Report
from ..keys import SQLiteKeyStore
from ..scan import Credential, Endpoint, Settings, scan_async
from ..scan.progress import Progress
from .apps import PATHS, READ, guarded_app, vulnerable_app

#: The principals the demo issues keys for; ``eve`` holds no scope (the low-privilege key).
PRINCIPALS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("alice", (READ,)),
    ("bob", (READ,)),
    ("eve", ()),
)
#: The scan's settings: loopback servers we own, so no rate limit is needed.
SETTINGS = Settings(concurrency=8, rate=0.0, budget=400, timeout=10.0)


@dataclass(frozen=True)
class DemoResult:
    """Both reports (keys already masked) and whether the demo showed what it should."""

    vulnerable: Report
    guarded: Report

    @property
    def as_expected(self) -> bool:
        """The vulnerable API has findings and the guarded one has none."""
        scanned = all(
            r.stats.get("endpoints_scanned") == len(PATHS) for r in (self.vulnerable, self.guarded)
        )
        return scanned and bool(self.vulnerable.findings) and not self.guarded.findings


@dataclass
class Demo:
    """Both APIs running, with keys issued; use as a context manager.

    :param workdir: where the SQLite key store lives (default: a new temporary directory,
        removed on close).
    """

    workdir: Path | None = None
    servers: dict[str, Server] = field(default_factory=dict)
    creds: list[Credential] = field(default_factory=list)
    _own_dir: bool = False
    _keys: SQLiteKeyStore | None = None

    def start(self) -> Demo:
        """Create the key store, issue the keys, start both servers."""
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="cacheward-demo-"))
            self._own_dir = True
        self._keys = SQLiteKeyStore(self.workdir / "keys.db")
        self.creds = [
            Credential(name, self._keys.create(name, scopes).plaintext, low=not scopes)
            for name, scopes in PRINCIPALS
        ]
        self.servers["vulnerable"] = Server.start("vulnerable", vulnerable_app(self._keys))
        self.servers["guarded"] = Server.start("guarded", guarded_app(self._keys))
        return self

    def close(self) -> None:
        """Stop both servers and remove what :meth:`start` created (safe to call twice)."""
        while self.servers:
            _, server = self.servers.popitem()
            server.stop()
        if self._keys is not None:
            self._keys.close()
            self._keys = None
        if self._own_dir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
            self._own_dir = False

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def endpoints(self, name: str) -> list[Endpoint]:
        """The URLs of :data:`PATHS` on the API ``name``."""
        base = self.servers[name].base
        return [Endpoint(base + path) for path in PATHS]

    def key(self, name: str) -> str:
        """The plaintext key of principal ``name`` (for ``--serve``'s curl lines only)."""
        return next(c.key for c in self.creds if c.name == name)

    def scan(self, progress: dict[str, Progress] | None = None) -> DemoResult:
        """Scan both APIs at once with the real scanner, over HTTP to the loopback servers.

        :param progress: a :class:`~cacheward.scan.progress.Progress` per API name.
        """
        progress = progress or {}

        async def both() -> list[Report]:
            return list(
                await asyncio.gather(
                    *(
                        scan_async(
                            self.endpoints(n), self.creds, SETTINGS, progress=progress.get(n)
                        )
                        for n in ("vulnerable", "guarded")
                    )
                )
            )

        with fast_switching():
            vulnerable, guarded = asyncio.run(both())
        return DemoResult(vulnerable, guarded)
