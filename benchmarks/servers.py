"""Servers the benchmarks start on free loopback ports and stop by PID."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Stop the process we started, by its PID: TERM, then KILL."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


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
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, check=False
    ).stdout.split()
    v = next((w.split("=")[1] for w in version if w.startswith("v=")), "?")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    args += ["no", "--daemonize", "no", "--loglevel", "warning"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        yield Redis(f"redis://127.0.0.1:{port}/0", v)
    finally:
        stop(proc)


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
        stop(proc)
