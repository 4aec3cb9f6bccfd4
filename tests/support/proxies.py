"""Real servers for end-to-end tests: gunicorn, nginx and Varnish on loopback
(HAProxy and Traffic Server are in :mod:`.caches`; :func:`start_proxy` starts any).

Importable by any suite (the guard, the scanner): each ``start_*`` function writes its
configuration and temp files into a directory it is given, starts the server as the
current user on a free 127.0.0.1 port, waits until the port answers, and returns a
:class:`Server` whose :meth:`Server.stop` ends it by PID (SIGTERM, then SIGKILL) and
checks that it and its children are gone.

Proxy profiles (:data:`PROFILES`):

``nginx``
    ``proxy_cache`` with the default ``proxy_cache_key`` and ``proxy_cache_valid 200 1m``,
    as people configure it; ``X-Cache`` is ``$upstream_cache_status``.
``varnish``
    Varnish with the builtin VCL; ``X-Cache`` is HIT or MISS from ``obj.hits``.
``cdn-static``
    nginx that force-caches ``*.css`` and ``*.js`` paths for a minute, ignoring
    ``Cache-Control``, ``Expires``, ``Set-Cookie`` and ``Vary``, as CDN "cache
    everything static" rules do.
``cdn-utm``
    nginx that drops ``utm_*`` parameters from the cache key and forwards them.
``nginx-recommended``
    ``nginx`` plus what cacheward recommends: never store or answer from the cache
    for a request that carries a credential.
``cdn-static-recommended``
    ``cdn-static`` with the same rule on its force-cached paths.
``varnish-recommended``
    ``varnish`` plus what cacheward recommends: pass requests with ``X-API-Key`` as the
    builtin VCL passes those with ``Authorization`` or ``Cookie``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .binaries import need_binary, need_module
from .ports import HOST, free_port, port_open
from .processes import alive, children

ROOT = Path(__file__).resolve().parents[2]

NGINX_PROFILES = (
    "nginx",
    "cdn-static",
    "cdn-utm",
    "nginx-recommended",
    "cdn-static-recommended",
)
PROFILES = ("nginx", "varnish", "cdn-static", "cdn-utm")
#: Further real caches, started by :mod:`.caches` (issue 16).
CACHES = ("haproxy", "trafficserver")


class ServerError(RuntimeError):
    """A server did not start; carries the tail of its log."""


@dataclass
class Server:
    """A started server: its name, port, process and log."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    workdir: Path
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the server's PID, SIGKILL it after ``timeout``; assert every PID is gone."""
        pids = [self.pid, *children(self.pid)]
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        deadline = time.monotonic() + timeout
        for pid in pids[1:]:
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        left = [pid for pid in pids if alive(pid)]
        assert not left, f"{self.name}: processes still running after stop: {left}"


def _spawn(
    name: str,
    argv: Sequence[str],
    workdir: Path,
    port: int,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    log: Path | None = None,
    ready: Callable[[], bool] | None = None,
) -> Server:
    """Start ``argv`` and wait until ``port`` accepts connections and ``ready()`` is true.

    :param log: where the server's output goes (default ``<workdir>/<name>.log``); a
        server that writes its own log there too keeps everything in one file.
    :param ready: proof that the listener on ``port`` is this server and not whoever
        won a race for the port (a pid file, a line in the log).
    """
    log = log or workdir / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    server = Server(name, port, process, log, workdir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{name} exited with {process.returncode}:\n{server.log_tail()}")
        if port_open(port) and (ready is None or ready()):
            return server
        time.sleep(0.05)
    server.stop()
    raise ServerError(f"{name} did not listen on {port} in {timeout}s:\n{server.log_tail()}")


def _says(log: Path, line: str) -> Callable[[], bool]:
    """Whether ``log`` contains ``line`` yet."""

    def check() -> bool:
        try:
            return line in log.read_text(errors="replace")
        except OSError:
            return False

    return check


def _start_on_free_port(build: Callable[[int], Server], attempts: int = 3) -> Server:
    """Pick a free port and start; on a lost race for the port, try another."""
    error: ServerError | None = None
    for _ in range(attempts):
        port = free_port()
        try:
            return build(port)
        except ServerError as e:
            error = e
            if "in use" not in str(e).lower():
                raise
    assert error is not None
    raise error


# --- gunicorn ---------------------------------------------------------------------------


def start_gunicorn(
    app: str,
    workdir: Path,
    env: Mapping[str, str] | None = None,
    workers: int = 2,
    threads: int = 4,
) -> Server:
    """Serve the WSGI app ``app`` (``module:name`` or ``module:factory()``) with gunicorn."""
    need_module("gunicorn")
    workdir.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [full_env.get("PYTHONPATH")])]
    )

    def build(port: int) -> Server:
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            "gthread" if threads > 1 else "sync",
            "--worker-tmp-dir",
            str(workdir),
            "--graceful-timeout",
            "3",
            "--chdir",
            str(ROOT),
            app,
        ]
        log = workdir / "gunicorn.log"
        listening = _says(log, f"Listening at: http://{HOST}:{port} ")
        return _spawn("gunicorn", argv, workdir, port, full_env, log=log, ready=listening)

    return _start_on_free_port(build)


# --- nginx ------------------------------------------------------------------------------

_NGINX_MAIN = """\
{user}
worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body_temp;
    proxy_temp_path {tmp}/proxy_temp;
    fastcgi_temp_path {tmp}/fastcgi_temp;
    uwsgi_temp_path {tmp}/uwsgi_temp;
    scgi_temp_path {tmp}/scgi_temp;
    proxy_cache_path {tmp}/cache levels=1:2 keys_zone=cw:4m max_size=64m inactive=10m
                     use_temp_path=off;
{http_extra}
    upstream app {{
        server {host}:{upstream};
        keepalive 16;
    }}
    server {{
        listen {host}:{port};
        server_name localhost;
{locations}
    }}
}}
"""

_PROXY = """\
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_cache cw;
            proxy_cache_valid 200 1m;
            add_header X-Cache $upstream_cache_status always;
"""

# Strip up to three utm_* parameters from $args for the cache key; nginx has no global
# regex replace, so each map removes one (CDNs do this in their own configuration).
_UTM_MAPS = """\
    map $args $cw_args1 {
        default $args;
        "~^(?<a>.*?)(?:^|&)utm_[^&]*(?<b>.*)$" "$a$b";
    }
    map $cw_args1 $cw_args2 {
        default $cw_args1;
        "~^(?<a>.*?)(?:^|&)utm_[^&]*(?<b>.*)$" "$a$b";
    }
    map $cw_args2 $cw_args3 {
        default $cw_args2;
        "~^(?<a>.*?)(?:^|&)utm_[^&]*(?<b>.*)$" "$a$b";
    }
    map $cw_args3 $cache_args {
        default $cw_args3;
        "~^&(?<rest>.*)$" $rest;
    }
"""

# What cacheward recommends in front of an API: a request with a credential is never
# answered from the cache nor stored (nginx does not look at X-API-Key or Authorization).
RECOMMENDED_NGINX = """\
            proxy_no_cache $http_x_api_key $http_authorization $http_cookie;
            proxy_cache_bypass $http_x_api_key $http_authorization $http_cookie;
"""



def target_server(app: str, directory: Path) -> Iterator[Server]:
    """One of ``tests/targets``' apps (``"tests.targets.fresh:create_app()"``) under
    gunicorn, for a module-scoped fixture to ``yield from``: one worker, because the
    targets' in-app caches live in the process, and 8 threads; stopped by PID."""
    server = start_gunicorn(app, directory, workers=1, threads=8)
    try:
        yield server
    finally:
        server.stop()

def nginx_config(profile: str, tmp: Path, port: int, upstream: int) -> str:
    """The nginx configuration of ``profile`` (one of :data:`NGINX_PROFILES`)."""
    http_extra = ""
    if profile == "nginx":
        locations = "        location / {\n" + _PROXY + "        }\n"
    elif profile == "nginx-recommended":
        locations = "        location / {\n" + _PROXY + RECOMMENDED_NGINX + "        }\n"
    elif profile == "cdn-static":
        locations = (
            "        location / {\n" + _PROXY + "        }\n"
            "        location ~* \\.(css|js)$ {\n" + _PROXY + "            proxy_ignore_headers"
            " Cache-Control Expires Set-Cookie Vary;\n        }\n"
        )
    elif profile == "cdn-static-recommended":
        locations = (
            "        location / {\n" + _PROXY + RECOMMENDED_NGINX + "        }\n"
            "        location ~* \\.(css|js)$ {\n" + _PROXY + RECOMMENDED_NGINX + "            "
            "proxy_ignore_headers Cache-Control Expires Set-Cookie Vary;\n        }\n"
        )
    elif profile == "cdn-utm":
        http_extra = _UTM_MAPS
        locations = (
            "        location / {\n" + _PROXY + "            proxy_cache_key"
            ' "$scheme$proxy_host$uri$is_args$cache_args";\n        }\n'
        )
    else:
        raise ValueError(f"unknown nginx profile {profile!r}")
    return _NGINX_MAIN.format(
        user="user root;" if os.geteuid() == 0 else "",
        tmp=tmp,
        host=HOST,
        port=port,
        upstream=upstream,
        http_extra=http_extra,
        locations=locations,
    )


def start_nginx(profile: str, workdir: Path, upstream: int) -> Server:
    """nginx in ``profile`` in front of ``127.0.0.1:upstream``."""
    nginx = need_binary("nginx")
    workdir.mkdir(parents=True, exist_ok=True)

    def build(port: int) -> Server:
        conf = workdir / "nginx.conf"
        conf.write_text(nginx_config(profile, workdir, port, upstream))
        log, pid = workdir / "error.log", workdir / "nginx.pid"
        pid.unlink(missing_ok=True)
        argv = [nginx, "-p", str(workdir), "-c", str(conf), "-e", str(log)]
        # nginx writes its pid file once it holds its listening socket.
        server = _spawn(f"nginx-{profile}", argv, workdir, port, log=log, ready=pid.exists)
        server.extra["cache_dir"] = workdir / "cache"
        return server

    return _start_on_free_port(build)


def nginx_cached_entries(server: Server) -> int:
    """How many responses nginx holds on disk."""
    cache = server.extra.get("cache_dir")
    assert isinstance(cache, Path)
    return sum(1 for p in cache.rglob("*") if p.is_file())


# --- Varnish ----------------------------------------------------------------------------

VCL = """\
vcl 4.1;

backend default {{
    .host = "{host}";
    .port = "{upstream}";
}}

{recv}
# Everything else falls through to the builtin VCL.
sub vcl_deliver {{
    if (obj.hits > 0) {{
        set resp.http.X-Cache = "HIT";
    }} else {{
        set resp.http.X-Cache = "MISS";
    }}
}}
"""


# What cacheward recommends: the builtin VCL passes Authorization and Cookie requests but
# knows nothing of X-API-Key; pass those too. No return: the builtin vcl_recv still runs.
RECOMMENDED_VCL_RECV = """\
sub vcl_recv {
    if (req.http.X-API-Key) {
        return (pass);
    }
}
"""


def start_varnish(workdir: Path, upstream: int, recommended: bool = False) -> Server:
    """Varnish with the builtin VCL in front of ``127.0.0.1:upstream``.

    ``-j none``: no jail. As root the default ``unix`` jail drops the worker to the
    ``vcache`` user, which cannot enter pytest's 0700 temp directories; as another user
    there is nothing to drop to. ``-T 127.0.0.1:0`` keeps the management port on loopback.
    """
    varnishd = need_binary("varnishd")
    workdir.mkdir(parents=True, exist_ok=True)

    def build(port: int) -> Server:
        vcl = workdir / "default.vcl"
        recv = RECOMMENDED_VCL_RECV if recommended else ""
        vcl.write_text(VCL.format(host=HOST, upstream=upstream, recv=recv))
        argv = [
            varnishd,
            "-F",
            "-j",
            "none",
            "-a",
            f"{HOST}:{port}",
            "-T",
            f"{HOST}:0",
            "-n",
            str(workdir / "varnish"),
            "-f",
            str(vcl),
            "-s",
            "malloc,32m",
        ]
        log = workdir / "varnish.log"
        log.unlink(missing_ok=True)
        ready = _says(log, "Child launched OK")
        return _spawn("varnish", argv, workdir, port, timeout=60.0, log=log, ready=ready)

    return _start_on_free_port(build)


def start_proxy(profile: str, workdir: Path, upstream: int) -> Server:
    """A proxy of any profile in :data:`PROFILES`, a ``*-recommended`` one, or one of
    :data:`CACHES` (:mod:`.caches`)."""
    if profile in CACHES:
        from . import caches  # it builds on this module

        start = caches.start_haproxy if profile == "haproxy" else caches.start_trafficserver
        return start(workdir, upstream)
    if profile in ("varnish", "varnish-recommended"):
        return start_varnish(workdir, upstream, recommended=profile != "varnish")
    return start_nginx(profile, workdir, upstream)


#: Generous: the suite shares a 2-core CI machine with the servers it starts.
HTTP_TIMEOUT = 30.0


def http_get(url: str, **kwargs: Any) -> httpx.Response:
    """``httpx.get`` with :data:`HTTP_TIMEOUT` and no cookie jar carried between calls."""
    return httpx.get(url, timeout=HTTP_TIMEOUT, **kwargs)
