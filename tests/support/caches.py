"""HAProxy's cache and Apache Traffic Server on loopback, configured as deployments do.

Both start like the servers of :mod:`.proxies`: configuration and every file they write
in the directory they are given, a free 127.0.0.1 port picked by the OS, started as the
current user, ready once the port answers *and* the server says it is theirs, stopped
by PID (:meth:`Server.stop`).

``haproxy``
    HAProxy 2.6 with a ``cache`` section used by ``http-request cache-use`` and
    ``http-response cache-store`` in the backend, as HAProxy's own blog post on caching
    APIs writes it, and the ``X-Cache`` status lines from the same post.
``trafficserver``
    Apache Traffic Server 9.2 as a reverse proxy: the ``records.config`` and
    ``remap.config`` of ATS's Getting Started guide, one ``map`` rule, a 64 MB cache
    file, and the ``header_rewrite`` plugin's ``%{CACHE}`` condition for ``X-Cache``.
"""

from __future__ import annotations

import socket
from pathlib import Path

from .binaries import need_binary
from .ports import HOST
from .proxies import Server, _says, _spawn, _start_on_free_port

# --- HAProxy ----------------------------------------------------------------------------

# Sources: HAProxy blog, "Accelerate Your APIs by Using the HAProxy Cache" (2020-10-21,
# gist haproxytechblog/c36b02678c5449b9f0876af3d15c4774): the cache section, the two
# actions in the backend, and the srv_id status lines; HAProxy 2.6 configuration manual,
# section 6 (Cache). Ours differ only where the test needs it: 16 MB of shared memory
# instead of the post's 4095 (allocated at start), the status header named X-Cache like
# every other proxy of the suite (the post's is X-Cache-Status), a stats socket in the
# work dir (readiness, and ``show cache``), and the post's max-age 30 raised to the
# 60 s of HAProxy's default and of the suite's nginx (proxy_cache_valid 200 1m).
HAPROXY_CFG = """\
global
    stats socket {tmp}/admin.sock mode 600 level admin

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

cache api_cache
    total-max-size 16
    max-object-size 10000
    max-age 60

frontend fe_api
    bind {host}:{port}
    http-response set-header X-Cache HIT if !{{ srv_id -m found }}
    http-response set-header X-Cache MISS if {{ srv_id -m found }}
    default_backend be_api

backend be_api
    http-request cache-use api_cache
    http-response cache-store api_cache
    server app {host}:{upstream}
"""


def start_haproxy(workdir: Path, upstream: int) -> Server:
    """HAProxy with its cache in front of ``127.0.0.1:upstream`` (``-db``: foreground)."""
    haproxy = need_binary("haproxy")
    workdir.mkdir(parents=True, exist_ok=True)

    def build(port: int) -> Server:
        conf = workdir / "haproxy.cfg"
        conf.write_text(HAPROXY_CFG.format(tmp=workdir, host=HOST, port=port, upstream=upstream))
        sock = workdir / "admin.sock"
        sock.unlink(missing_ok=True)
        argv = [haproxy, "-db", "-f", str(conf)]
        # The stats socket is bound with the listeners: it exists once ours are.
        server = _spawn("haproxy", argv, workdir, port, ready=sock.exists)
        server.extra["admin_socket"] = sock
        return server

    return _start_on_free_port(build)


def haproxy_command(server: Server, command: str) -> str:
    """The answer of HAProxy's stats socket to ``command`` (``show cache``...)."""
    sock = server.extra.get("admin_socket")
    assert isinstance(sock, Path)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(sock))
        s.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


# --- Apache Traffic Server --------------------------------------------------------------

# Every directory ATS reads or writes, in the work dir; binaries and plugins from the
# install (a runroot.yaml as ``traffic_layout init`` writes one, pointing at /usr).
_RUNROOT = """\
prefix: /usr
exec_prefix: /usr
bindir: /usr/bin
sbindir: /usr/sbin
includedir: /usr/include
libdir: /usr/lib/trafficserver
libexecdir: /usr/lib/trafficserver/modules
sysconfdir: {tmp}/etc
datadir: {tmp}/cache
cachedir: {tmp}/cache
localstatedir: {tmp}/var
runtimedir: {tmp}/run
logdir: {tmp}/log
"""

# The first five lines: ATS Getting Started guide, "Configuring A Reverse Proxy", final
# records.config (apache/trafficserver@027481d19c084c31458998ca216235318b64ebcb,
# doc/getting-started/index.en.rst), with our port. Everything after it is the test's:
# stay the current user (#-1, as ATS's own test tooling sets it), two threads and a 16 MB
# RAM cache on a 2-core machine.
# Caching rules are all ATS defaults.
_RECORDS = """\
CONFIG proxy.config.http.cache.http INT 1
CONFIG proxy.config.reverse_proxy.enabled INT 1
CONFIG proxy.config.url_remap.remap_required INT 1
CONFIG proxy.config.url_remap.pristine_host_hdr INT 1
CONFIG proxy.config.http.server_ports STRING {port}
CONFIG proxy.config.admin.user_id STRING #-1
CONFIG proxy.config.exec_thread.autoconfig INT 0
CONFIG proxy.config.exec_thread.limit INT 2
CONFIG proxy.config.cache.ram_cache.size INT 16777216
"""

# Getting Started guide again: one map rule per public host, to the origin
# ("map http://www.acme.com/ http://localhost:8080/"); our public host is the loopback.
_REMAP = "map http://{host}:{port}/ http://{host}:{upstream}/\n"

# Getting Started guide, "Adjust Cache Parameters": one storage.config line, a path and
# a size (theirs /cache/trafficserver 500G).
_STORAGE = "{tmp}/cache 64M\n"

# ip_allow.yaml in the form of ATS 9's admin guide (apply, ip_addrs, action, methods): loopback.
_IP_ALLOW = """\
ip_allow:
  - apply: in
    ip_addrs: 127.0.0.1
    action: allow
    methods: ALL
"""

# header_rewrite plugin documentation, condition CACHE (values none, miss, hit-stale,
# hit-fresh, skipped) at SEND_RESPONSE_HDR_HOOK. ATS sends no cache-status header of its
# own. CACHE is the lookup's result: a fresh object ATS then does not serve (an
# Authorization request, no "public") still reads HIT (tests/proxy/test_observed.py).
_STATUS_RULES = """\
cond %{SEND_RESPONSE_HDR_HOOK} [AND]
cond %{CACHE} =hit-fresh
    set-header X-Cache HIT
cond %{SEND_RESPONSE_HDR_HOOK} [AND]
cond %{CACHE} =hit-fresh [NOT]
    set-header X-Cache MISS
"""

#: Files ATS 9.2 loads at start; present and empty unless written above.
_EMPTY = (
    "cache.config",
    "hosting.config",
    "parent.config",
    "volume.config",
    "logging.yaml",
    "sni.yaml",
    "ssl_multicert.config",
    "splitdns.config",
    "strategies.yaml",
    "socks.config",
)


def trafficserver_files(tmp: Path, port: int, upstream: int) -> dict[Path, str]:
    """Every file of a Traffic Server runroot in ``tmp``, by path."""
    etc = tmp / "etc"
    files = {
        tmp / "runroot.yaml": _RUNROOT.format(tmp=tmp),
        etc / "records.config": _RECORDS.format(port=port),
        etc / "remap.config": _REMAP.format(host=HOST, port=port, upstream=upstream),
        etc / "storage.config": _STORAGE.format(tmp=tmp),
        etc / "ip_allow.yaml": _IP_ALLOW,
        etc / "cache-status.conf": _STATUS_RULES,
        etc / "plugin.config": f"header_rewrite.so {etc / 'cache-status.conf'}\n",
    }
    files.update({etc / name: "" for name in _EMPTY})
    return files


def start_trafficserver(workdir: Path, upstream: int) -> Server:
    """Traffic Server as a reverse proxy for ``127.0.0.1:upstream``."""
    traffic_server = need_binary("traffic_server", ".ci/run installs trafficserver with apt")
    workdir.mkdir(parents=True, exist_ok=True)

    def build(port: int) -> Server:
        for sub in ("etc", "cache", "var", "run", "log"):
            (workdir / sub).mkdir(exist_ok=True)
        for path, text in trafficserver_files(workdir, port, upstream).items():
            path.write_text(text)
        diags = workdir / "log" / "diags.log"
        diags.unlink(missing_ok=True)
        env = {"TS_RUNROOT": str(workdir / "runroot.yaml"), "PATH": "/usr/bin:/bin"}
        # Its stdout is block-buffered; diags.log is written line by line. Requests
        # before "cache enabled" are proxied uncached; this line comes after it.
        ready = _says(diags, "Traffic Server is fully initialized")
        server = _spawn("trafficserver", [traffic_server], workdir, port, env, ready=ready)
        server.log = diags
        return server

    return _start_on_free_port(build)
