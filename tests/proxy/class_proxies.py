"""The proxies of the issue-16 class tests that ``tests/proxies.py`` does not start.

``squid``
    Squid 5 as a reverse proxy ("accelerator"), configured as the Squid wiki's
    ConfigExamples/Reverse/BasicAccelerator does: ``http_port ... accel defaultsite=``
    with ``no-vhost`` (one site), one ``cache_peer ... originserver``, memory-only cache.
    Squid announces itself with ``X-Cache`` and ``Via``.
``nginx-silent``
    The ``nginx`` profile without its ``add_header X-Cache``: ``proxy_cache`` and
    ``proxy_cache_valid 200 1m`` exactly as nginx's documentation writes them, which
    sends no cache-status header at all (the caches of Golinelli et al.).
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

from tests.support.proxies import (
    HOST,
    Server,
    _says,
    _spawn,
    _start_on_free_port,
    need_binary,
    nginx_config,
)

SQUID_CONF = """\
# Squid wiki, ConfigExamples/Reverse/BasicAccelerator: one origin behind an accelerator.
http_port {host}:{port} accel defaultsite={host}:{upstream} no-vhost
cache_peer {host} parent {upstream} 0 no-query originserver name=app
acl site dstdomain {host}
http_access allow site
http_access deny all
cache_peer_access app allow site
cache_peer_access app deny all
# Memory only (no cache_dir: nothing to initialise with squid -z), as in a container.
cache_mem 16 MB
pid_filename {tmp}/squid.pid
access_log stdio:{tmp}/access.log
cache_log {tmp}/cache.log
coredump_dir {tmp}
shutdown_lifetime 1 seconds
visible_hostname cacheward-test
"""


def start_squid(workdir: Path, upstream: int) -> Server:
    """Squid in front of ``127.0.0.1:upstream``.

    As root Squid drops to ``cache_effective_user`` (Debian: ``proxy``), which cannot
    enter pytest's 0700 temp directories: its files then live in a directory of its own
    under the system temp dir, owned by that user, and removed by :func:`stop_squid`.
    """
    squid = need_binary("squid")
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="cw-squid-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("proxy")
        os.chown(tmp, user.pw_uid, user.pw_gid)

    def build(port: int) -> Server:
        conf = workdir / "squid.conf"
        conf.write_text(SQUID_CONF.format(host=HOST, port=port, upstream=upstream, tmp=tmp))
        log = tmp / "cache.log"
        argv = [squid, "-N", "-f", str(conf)]
        ready = _says(log, "Accepting reverse-proxy HTTP Socket connections")
        server = _spawn("squid", argv, workdir, port, timeout=15.0, ready=ready)
        server.extra["squid_tmp"] = tmp
        return server

    return _start_on_free_port(build)


def stop_squid(server: Server) -> None:
    server.stop()
    tmp = server.extra.get("squid_tmp")
    if isinstance(tmp, Path):
        shutil.rmtree(tmp, ignore_errors=True)


def start_nginx_silent(workdir: Path, upstream: int) -> Server:
    """nginx's ``proxy_cache`` as documented, with no cache-status header."""
    nginx = need_binary("nginx")
    workdir.mkdir(parents=True, exist_ok=True)

    def build(port: int) -> Server:
        text = nginx_config("nginx", workdir, port, upstream)
        silent = "\n".join(line for line in text.splitlines() if "add_header X-Cache" not in line)
        conf = workdir / "nginx.conf"
        conf.write_text(silent + "\n")
        log, pid = workdir / "error.log", workdir / "nginx.pid"
        pid.unlink(missing_ok=True)
        argv = [nginx, "-p", str(workdir), "-c", str(conf), "-e", str(log)]
        return _spawn("nginx-silent", argv, workdir, port, log=log, ready=pid.exists)

    return _start_on_free_port(build)
