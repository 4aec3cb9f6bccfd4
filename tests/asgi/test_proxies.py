"""The ASGI guard under real servers: uvicorn and gunicorn with uvicorn workers, behind
the proxy suite's real nginx and Varnish, with its leak oracle under concurrent callers
(20 principals, anonymous callers, keys revoked half-way)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.proxy.callers import Keyring, issue_keys
from tests.proxy.test_guard_through_proxies import check, run_oracle
from tests.support.proxies import (
    HOST,
    ROOT,
    Server,
    _says,
    _spawn,
    _start_on_free_port,
    start_proxy,
)

#: Requests through each server and proxy; ``-m slow`` goes further.
REQUESTS = int(os.environ.get("CW_ASGI_PROXY_REQUESTS", "600"))


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyring]:
    keyring = issue_keys(tmp_path_factory.mktemp("keys") / "keys.db")
    yield keyring
    keyring.store.close()


def _start(kind: str, workdir: Path, keys: Path) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CW_KEYS_FILE": str(keys), "CW_DOWNSTREAM": "private"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])

    def build(port: int) -> Server:
        log = workdir / f"{kind}.log"
        if kind == "uvicorn":
            argv = [sys.executable, "-m", "uvicorn", "--factory", "tests.asgi.proxied:create_app"]
            argv += ["--host", HOST, "--port", str(port), "--workers", "2"]
            argv += ["--log-level", "info", "--no-access-log", "--app-dir", str(ROOT)]
            ready = _says(log, f"Uvicorn running on http://{HOST}:{port}")
        else:
            argv = [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}", "--workers", "2"]
            argv += ["--worker-class", "uvicorn.workers.UvicornWorker", "--chdir", str(ROOT)]
            argv += ["--worker-tmp-dir", str(workdir), "--graceful-timeout", "3"]
            argv += ["tests.asgi.proxied:create_app()"]
            ready = _says(log, f"Listening at: http://{HOST}:{port} ")
        return _spawn(kind, argv, workdir, port, env, log=log, ready=ready)

    return _start_on_free_port(build)


@pytest.fixture(scope="module", params=["uvicorn", "gunicorn"])
def server(request, tmp_path_factory, keyring) -> Iterator[Server]:
    started = _start(request.param, tmp_path_factory.mktemp(request.param), keyring.path)
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.parametrize("profile", ["nginx", "varnish"])
def test_no_response_reaches_another_key(profile, server, keyring, tmp_path):
    keyring.reissue_revocable()  # a previous run revoked them
    front = start_proxy(profile, tmp_path / profile, server.port)
    try:
        report = run_oracle(front.url, keyring, REQUESTS, seed=len(profile))
        check(f"{server.name}+{profile}", front, report, REQUESTS)
    finally:
        front.stop()


def test_direct_to_the_server_under_concurrent_callers(server, keyring):
    keyring.reissue_revocable()
    report = run_oracle(server.url, keyring, REQUESTS // 2, seed=3)
    assert report.sent == REQUESTS // 2
    assert report.leaks == [], "\n".join(report.leaks[:20])
    assert {200, 401, 403, 404} <= set(report.statuses)
