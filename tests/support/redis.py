"""Real Redis for tests and benchmarks: a standalone server and a 3-master Cluster on
loopback, with no persistence, in a temporary directory, stopped by PID."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from .binaries import need_binary
from .ports import HOST, free_port_with
from .processes import kill_process, stop_process

#: A Cluster node also listens on its port + 10000 (the cluster bus).
CLUSTER_BUS_OFFSET = 10000
_INSTALL = "apt-get install redis-server"


def redis_version(binary: str) -> str:
    """``redis-server --version``'s ``v=`` field, or ``?``."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return next((w.split("=")[1] for w in out.stdout.split() if w.startswith("v=")), "?")


class RedisServer:
    """One ``redis-server`` process on a free loopback port."""

    def __init__(self, *extra: str, port: int | None = None) -> None:
        self.binary = need_binary("redis-server", _INSTALL)
        self.extra = extra
        self.port = port or free_port_with(CLUSTER_BUS_OFFSET)
        self.dir = Path(tempfile.mkdtemp(prefix="cw-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @contextmanager
    def client(self) -> Iterator[redis.Redis]:
        """A plain client, fully disconnected on exit (no socket left for the GC)."""
        client = redis.Redis(HOST, self.port, socket_timeout=2, socket_connect_timeout=2)
        try:
            yield client
        finally:
            client.close()
            client.connection_pool.disconnect()

    def start(self, attempts: int = 5) -> RedisServer:
        """Start (or restart on the same port); picks another port on a collision."""
        for _ in range(attempts):
            args = [
                self.binary,
                *("--port", str(self.port), "--bind", HOST, "--save", ""),
                *("--appendonly", "no", "--dir", str(self.dir), "--protected-mode", "no"),
                *self.extra,
            ]
            with open(self.dir / f"redis-{self.port}.log", "ab") as log:
                self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
            if self._wait_ready():
                return self
            self.stop()
            self.port = free_port_with(CLUSTER_BUS_OFFSET)
        raise RuntimeError(f"redis-server did not start; see {self.dir}")

    def _wait_ready(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with self.client() as client:
                    if client.ping():
                        return True
            except redis.RedisError:
                time.sleep(0.02)
        return False

    def kill(self) -> None:
        """SIGKILL by PID: the server vanishes mid-conversation."""
        if self.proc is not None:
            kill_process(self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=5)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisCluster:
    """Three masters, no replicas, made with ``redis-cli --cluster create``."""

    def __init__(self, masters: int = 3) -> None:
        self.cli = need_binary("redis-cli", _INSTALL)
        self.nodes = [
            RedisServer(
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
            )
            for _ in range(masters)
        ]

    @property
    def url(self) -> str:
        return f"redis+cluster://{HOST}:{self.nodes[0].port}"

    def start(self) -> RedisCluster:
        for node in self.nodes:
            node.start()
        addresses = [f"{HOST}:{n.port}" for n in self.nodes]
        subprocess.run(
            [self.cli, "--cluster", "create", *addresses]
            + ["--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self._wait_ok()
        return self

    def _wait_ok(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = []
            for node in self.nodes:
                with node.client() as client:
                    info = client.execute_command("CLUSTER", "INFO")
                states.append(b"cluster_state:ok" in info)
            if all(states):
                return
            time.sleep(0.1)
        raise RuntimeError("the cluster did not reach cluster_state:ok")

    def flushall(self) -> None:
        for node in self.nodes:
            if node.proc is not None:
                with node.client() as client:
                    client.flushall()

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()
