"""The process helpers: a missing binary skips locally and fails under CI=true; stop()
ends a server and every process it started."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import httpx
import pytest
from tests.support import caches, proxies


def no_binary(*args: object, **kwargs: object) -> None:
    return None


def test_missing_binary_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", no_binary)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="nginx is not installed"):
        proxies.need_binary("nginx")


def test_missing_binary_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", no_binary)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and varnishd is not installed"):
        proxies.need_binary("varnishd")


def test_nginx_config_keeps_every_path_in_the_test_dir(tmp_path: Path) -> None:
    for profile in proxies.NGINX_PROFILES:
        conf = proxies.nginx_config(profile, tmp_path, 8080, 8081)
        for directive in ("pid", "error_log", "access_log", "proxy_cache_path") + tuple(
            f"{t}_temp_path" for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        ):
            line = next(li for li in conf.splitlines() if li.strip().startswith(directive + " "))
            assert str(tmp_path) in line, (profile, line)
        assert "listen 127.0.0.1:8080;" in conf


def test_stop_ends_the_server_and_its_children(tmp_path: Path) -> None:
    proxies.need_binary("nginx")
    upstream = proxies.free_port()
    server = proxies.start_nginx("nginx", tmp_path, upstream)
    kids = proxies.children(server.pid)
    assert kids, "nginx master has no worker"
    server.stop()
    assert not proxies.port_open(server.port)
    assert not any(proxies.alive(pid) for pid in [server.pid, *kids])


def test_a_port_taken_meanwhile_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between picking a free port and binding it, someone else may take it: the start
    must not mistake that listener for the server, and must try another port."""
    proxies.need_binary("nginx")
    with socket.socket() as squatter:
        squatter.bind((proxies.HOST, 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        picks = iter([taken])
        real = proxies.free_port
        monkeypatch.setattr(proxies, "free_port", lambda: next(picks, None) or real())
        server = proxies.start_nginx("nginx", tmp_path, upstream=1)  # never asked
        try:
            assert server.port != taken
            assert next(picks, None) is None  # the taken port was tried first
        finally:
            server.stop()


def test_traffic_server_files_stay_in_the_test_dir(tmp_path: Path) -> None:
    """Every directory ATS writes (config, cache, logs, runtime, state) is the test's;
    only binaries and plugins come from the install."""
    files = caches.trafficserver_files(tmp_path, 8080, 8081)
    assert all(tmp_path in path.parents for path in files)
    runroot = dict(line.split(": ", 1) for line in files[tmp_path / "runroot.yaml"].splitlines())
    for key in ("sysconfdir", "datadir", "cachedir", "localstatedir", "runtimedir", "logdir"):
        assert runroot[key].startswith(str(tmp_path)), (key, runroot[key])
    assert files[tmp_path / "etc" / "storage.config"].startswith(str(tmp_path))
    assert "server_ports STRING 8080\n" in files[tmp_path / "etc" / "records.config"]
    assert files[tmp_path / "etc" / "remap.config"] == (
        "map http://127.0.0.1:8080/ http://127.0.0.1:8081/\n"
    )


@pytest.mark.parametrize("profile", proxies.CACHES)
def test_the_caches_stop_by_pid_with_what_they_started(profile: str, tmp_path: Path) -> None:
    proxies.need_binary("haproxy" if profile == "haproxy" else "traffic_server")
    server = proxies.start_proxy(profile, tmp_path, upstream=proxies.free_port())
    pids = [server.pid, *proxies.children(server.pid)]
    try:
        answer = httpx.get(server.url + "/", timeout=proxies.HTTP_TIMEOUT)
        assert answer.status_code in (502, 503)  # it is the proxy: nothing listens upstream
    finally:
        server.stop()
    assert not proxies.port_open(server.port)
    assert not any(proxies.alive(pid) for pid in pids)


def test_haproxy_reports_what_it_stores(tmp_path: Path) -> None:
    """The stats socket answers: the cache section is the configured one."""
    proxies.need_binary("haproxy")
    server = caches.start_haproxy(tmp_path, upstream=proxies.free_port())
    try:
        assert "api_cache" in caches.haproxy_command(server, "show cache")
    finally:
        server.stop()
