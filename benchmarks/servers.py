"""Servers the benchmarks start on free loopback ports and stop by PID (with the tests'
own helpers, :mod:`tests.support`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support import free_port, stop_process, wait_for_port
from tests.support.redis import RedisServer, redis_version

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Redis:
    url: str
    version: str


@contextlib.contextmanager
def redis_server() -> Iterator[Redis | None]:
    """A throwaway redis-server, or ``None`` when the binary is missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    server = RedisServer().start()
    try:
        yield Redis(server.url, redis_version(binary))
    finally:
        server.cleanup()


@contextlib.contextmanager
def gunicorn(variant: str, redis_url: str | None, workers: int = 2) -> Iterator[int]:
    """gunicorn with ``workers`` sync workers serving variant ``variant``; yields its port."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if redis_url:
        env["BENCH_REDIS_URL"] = redis_url
    args = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "sync"]
    args += ["-b", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "512"]
    args += [f"benchmarks.apps:make_app({variant!r})"]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        yield port
    finally:
        stop_process(proc)
