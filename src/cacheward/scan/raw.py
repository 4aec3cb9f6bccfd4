"""A raw HTTP/1.1 sender, for the requests httpx (h11) refuses to express.

h11 refuses a second ``Host`` field in any spelling (RFC 9112 section 3.2 tells servers to
answer it with 400), yet caches and origins differ on which ``Host`` they take, and the
``duplicate-host`` probe must send one to find out. This module writes such a request on
a socket of its own (TLS through :mod:`ssl` for ``https`` URLs, verified as httpx
verifies: ``SSL_CERT_FILE``, ``SSL_CERT_DIR``, else certifi's bundle), one request per
connection, and parses the answer into a :class:`~cacheward.scan.exchange.ProbeResponse`.

It sends the :class:`httpx.Request` that :func:`~cacheward.scan.exchange.build_request`
built, so a raw request carries exactly what an httpx one would (the credential, the
scan's required headers, the one ``Cookie`` header, the buster), header names as the probe
spelt them, ``Host`` fields first and in the probe's order, ``Accept-Encoding: identity``
and ``Connection: close``. The scan's rate limiter, request budget, oracle and redacted
log still see it: :class:`~cacheward.scan.runner.Sender` sends it. Errors are mapped to
httpx's (connect, timeout, protocol), so every caller handles one family; their messages
never name the URL (a key may travel in its query string).
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
import zlib

import httpx

from .exchange import ProbeResponse

#: The most a raw response may carry (status line, headers and body).
MAX_BYTES = 16 * 1024 * 1024
_DROPPED = frozenset({b"connection", b"accept-encoding", b"keep-alive"})


class RawUnavailable(httpx.UnsupportedProtocol):
    """The scan's transport is not the network (an in-process app): a raw request
    cannot be sent through it."""


def ssl_context() -> ssl.SSLContext:
    """The client TLS context httpx would use (``verify=True``, ``trust_env=True``)."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def encode(request: httpx.Request) -> bytes:
    """``request`` as HTTP/1.1 bytes: every header as built, ``Host`` fields first."""
    fields = [(k, v) for k, v in request.headers.raw if k.lower() not in _DROPPED]
    hosts = [f for f in fields if f[0].lower() == b"host"]
    rest = [f for f in fields if f[0].lower() != b"host"]
    rest += [(b"Accept-Encoding", b"identity"), (b"Connection", b"close")]
    head = b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)
    head += b"".join(b"%s: %s\r\n" % (k, v) for k, v in [*hosts, *rest])
    return head + b"\r\n" + request.content


def _dechunk(data: bytes) -> bytes:
    out, pos = bytearray(), 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            raise ValueError("truncated chunk size")
        size = int(data[pos:end].split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2


def _head(data: bytes | bytearray) -> tuple[int, dict[str, str], bytes | bytearray] | None:
    """The final response's status, headers and the bytes after them; ``None`` while
    its header is incomplete.

    :raises ValueError: not an HTTP/1.x response.
    """
    while True:
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            return None
        status_line, *lines = head.decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
            raise ValueError("not an HTTP/1.x status line")
        status = int(rest[:3])
        if not 100 <= status < 200:
            break
        data = body  # 100 Continue and other interim responses: the final one follows
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if colon:
            k, v = name.strip().lower(), value.strip()
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
    return status, headers, body


def _framing(status: int, headers: dict[str, str], method: str) -> str | int | None:
    """How the body ends: ``0`` (no body), its length, ``"chunked"``, or ``None``
    (at the close of the connection)."""
    if method == "HEAD" or status in (204, 304):
        return 0
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return "chunked"
    length = headers.get("content-length", "")
    return int(length) if length.isdigit() else None


def complete(data: bytes | bytearray, method: str = "GET") -> bool:
    """Whether ``data`` holds the whole final response (no need to wait for the close)."""
    head = _head(data)
    if head is None:
        return False
    status, headers, body = head
    framing = _framing(status, headers, method)
    if framing == "chunked":
        return body.endswith(b"0\r\n\r\n")
    return isinstance(framing, int) and len(body) >= framing


def parse(data: bytes, method: str = "GET", elapsed: float = 0.0) -> ProbeResponse:
    """The final response in ``data`` (a whole ``Connection: close`` exchange).

    :raises ValueError: not an HTTP/1.x response, or a truncated one.
    """
    head = _head(data)
    if head is None:
        raise ValueError("no end of the response header")
    status, headers, rest = head
    framing = _framing(status, headers, method)
    body = bytes(rest)
    if framing == "chunked":
        body = _dechunk(body)
    elif isinstance(framing, int):
        body = body[:framing]
    coding = headers.get("content-encoding", "").lower()
    if coding in ("gzip", "deflate"):
        body = zlib.decompress(body, 47 if coding == "gzip" else 15)
    return ProbeResponse(status, headers, body, elapsed)


class RawSender:
    """Sends built requests on sockets of their own (one connection each).

    :param timeout: seconds for the whole exchange (the scan's ``--timeout``).
    """

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._tls: ssl.SSLContext | None = None

    async def send(self, request: httpx.Request) -> ProbeResponse:
        """Send ``request`` and return the response it got.

        :raises httpx.TimeoutException: the exchange took longer than the timeout.
        :raises httpx.ConnectError: the connection or the TLS handshake failed.
        :raises httpx.RemoteProtocolError: the answer is not an HTTP/1.x response.
        """
        start = time.monotonic()
        try:
            data = await asyncio.wait_for(self._exchange(request), self._timeout)
            return parse(data, request.method, time.monotonic() - start)
        except asyncio.TimeoutError:
            raise httpx.ReadTimeout("raw request timed out", request=request) from None
        except (OSError, ssl.SSLError) as exc:
            why = f"raw request failed: {type(exc).__name__}: {exc.strerror or exc}"
            raise httpx.ConnectError(why, request=request) from None
        except (ValueError, zlib.error) as exc:
            why = f"raw response not understood: {exc}"
            raise httpx.RemoteProtocolError(why, request=request) from None

    async def _exchange(self, request: httpx.Request) -> bytes:
        url = request.url
        tls = None
        if url.scheme == "https":
            self._tls = self._tls or ssl_context()
            tls = self._tls
        port = url.port or (443 if tls else 80)
        host = url.host
        reader, writer = await asyncio.open_connection(
            host, port, ssl=tls, server_hostname=host if tls else None
        )
        try:
            writer.write(encode(request))
            await writer.drain()
            data = bytearray()
            while not complete(data, request.method):
                chunk = await reader.read(65536)
                if not chunk:
                    break
                data += chunk
                if len(data) > MAX_BYTES:
                    raise ValueError(f"raw response over {MAX_BYTES} bytes")
            return bytes(data)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ssl.SSLError):
                pass
