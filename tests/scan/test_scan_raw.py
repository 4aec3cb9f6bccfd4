"""The raw HTTP/1.1 sender (issue 16): what h11 refuses to send (a second ``Host``) goes
out as written, under the scan's budget, timeout and redaction, over TCP and TLS."""

from __future__ import annotations

import asyncio
import gzip
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.support import free_port, need_binary
from tests.targets import classes, vulnerable
from tests.targets.harness import AsyncWSGITransport, creds, endpoints
from tests.targets.kit import ALICE
from werkzeug.serving import make_server

from cacheward.scan import Settings, scan_async
from cacheward.scan.context import BusterState, ProbeContext
from cacheward.scan.credential import Credential, Placement, Redactor
from cacheward.scan.exchange import ProbeRequest, ProbeResponse, build_request, drive_with
from cacheward.scan.probes import duplicate_host
from cacheward.scan.raw import RawSender, complete, encode, parse
from cacheward.scan.runner import Budget, BudgetExceeded, Sender
from cacheward.scan.target import Endpoint

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
Reply = Callable[[bytes], bytes | None]


class Capture:
    """A TCP server on 127.0.0.1 that records each request's bytes and answers
    ``reply(request)`` (``None``: say nothing and hold the connection)."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.got: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data and (chunk := conn.recv(65536)):
                    data += chunk
                self.got.append(data)
                answer = self.reply(data)
                if answer is None:
                    conn.recv(1)  # until the client gives up and closes
                    continue
                conn.sendall(answer)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() (Linux)
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def capture() -> Iterator[Callable[[Reply], Capture]]:
    servers: list[Capture] = []

    def start(reply: Reply) -> Capture:
        servers.append(Capture(reply))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _twice(url: str, cred: Credential | None = None) -> ProbeRequest:
    headers = (("Host", "api.test"), ("host", "cwcanary.example"), ("Cookie", "lang=de"))
    return ProbeRequest(url, cred, headers=headers, raw=True)


def test_encode_sends_every_host_as_spelt_first_and_the_rest_as_httpx_builds_it() -> None:
    client = httpx.AsyncClient(headers=[("X-Tenant", "t1"), ("Cookie", "sid=1")])
    req = _twice("http://127.0.0.1:9/p%2Fq?cwcb=cw1", Credential("alice", ALICE))
    lines = encode(build_request(client, req)).decode().split("\r\n")
    assert lines[:3] == ["GET /p%2Fq?cwcb=cw1 HTTP/1.1", "Host: api.test", "host: cwcanary.example"]
    assert f"X-API-Key: {ALICE}" in lines and "X-Tenant: t1" in lines
    assert [x for x in lines if x.lower().startswith("cookie")] == ["Cookie: sid=1; lang=de"]
    assert lines[-4:] == ["Accept-Encoding: identity", "Connection: close", "", ""]
    assert not [x for x in lines if "keep-alive" in x or "gzip" in x]


CASES = {
    "length, then bytes of the next response": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: 1\r\nx-a: 2\r\n\r\nabcHTTP/1.1",
        "GET",
        (200, b"abc", "1, 2"),
    ),
    "chunked": (
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        "GET",
        (201, b"abcde", ""),
    ),
    "interim 100 first": (b"HTTP/1.1 100 Continue\r\n\r\n" + OK, "GET", (200, b"ok", "")),
    "HEAD": (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", "HEAD", (200, b"", "")),
    "gzip": (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gzip.compress(b"zipped"),
        "GET",
        (200, b"zipped", ""),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_parse_reads_each_framing(case: str) -> None:
    data, method, (status, body, xa) = CASES[case]
    resp = parse(data, method)
    assert (resp.status, resp.body, resp.header("x-a")) == (status, body, xa)


def test_complete_waits_for_the_whole_body_only_when_framed() -> None:
    assert not complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab")
    assert complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
    assert not complete(b"HTTP/1.1 200 OK\r\n\r\nstill coming")  # until the close
    assert not complete(b"HTTP/1.1 100 Continue\r\n\r\n")


@given(st.binary(max_size=300), st.integers(1, 50))
def test_chunked_bodies_come_back_whole(body: bytes, size: int) -> None:
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    wire = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + wire
    assert complete(data) and parse(data).body == body


def _sender(client: httpx.AsyncClient, raw: RawSender | None) -> Sender:
    return Sender(client, redact=Redactor(creds()), rate=0, raw=raw)


def test_sender_writes_the_raw_request_as_built_and_spends_the_budget(
    capture: Callable[[Reply], Capture],
) -> None:
    server = capture(lambda _: OK)
    url = f"http://127.0.0.1:{server.port}/x?cwcb=cw1"

    async def go() -> tuple[ProbeResponse, Budget]:
        budget = Budget(1)
        async with httpx.AsyncClient() as client:
            sender = _sender(client, RawSender(5.0))
            resp = await sender.send(_twice(url, creds()[0]), budget)
            with pytest.raises(BudgetExceeded):
                await sender.send(_twice(url, creds()[0]), budget)
        return resp, budget

    resp, budget = asyncio.run(go())
    assert (resp.status, resp.body, budget.used) == (200, b"ok", 1)
    (wire,) = server.got
    assert b"\r\nHost: api.test\r\nhost: cwcanary.example\r\n" in wire
    assert f"X-API-Key: {ALICE}\r\n".encode() in wire


def test_httpx_requests_carry_header_names_as_spelt(capture: Callable[[Reply], Capture]) -> None:
    """What ``host-header``'s spelling variants rely on: not folded on the wire."""
    server = capture(lambda _: OK)
    headers = (("x-forwarded-host", "cwa.example"), ("X-FORWARDED-HOST", "cwb.example"))

    async def go() -> None:
        async with httpx.AsyncClient() as client:
            req = ProbeRequest(f"http://127.0.0.1:{server.port}/x", headers=headers)
            await _sender(client, None).send(req, Budget(1))

    asyncio.run(go())
    wire = b"\r\nx-forwarded-host: cwa.example\r\nX-FORWARDED-HOST: cwb.example\r\n"
    assert wire in server.got[0]


def test_raw_errors_are_httpx_errors_that_never_name_the_key(
    capture: Callable[[Reply], Capture],
) -> None:
    """Refused, silent and garbled servers; the key travels in the URL (the worst case)."""
    silent = capture(lambda _: None)
    garbled = capture(lambda _: b"SSH-2.0-OpenSSH\r\n\r\n")
    cred = Credential("alice", ALICE, Placement.QUERY)
    expected = {
        free_port(): httpx.ConnectError,
        silent.port: httpx.ReadTimeout,
        garbled.port: httpx.RemoteProtocolError,
    }

    async def one(port: int) -> httpx.HTTPError:
        async with httpx.AsyncClient() as client:
            req = build_request(client, _twice(f"http://127.0.0.1:{port}/x", cred))
            try:
                await RawSender(0.5).send(req)
            except httpx.HTTPError as exc:
                return exc
        raise AssertionError("no error")

    for port, kind in expected.items():
        exc = asyncio.run(one(port))
        assert isinstance(exc, kind), (port, exc)
        assert ALICE not in str(exc) and cred.quoted_key not in str(exc)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Werkzeug over TLS on 127.0.0.1 with a fresh self-signed certificate; yields the
    base URL and the certificate (the CA a client must trust)."""
    openssl = need_binary("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )

    def app(environ: dict[str, str], start: Callable[..., object]) -> Sequence[bytes]:
        start("200 OK", [("Content-Type", "text/plain")])
        return [f"host={environ.get('HTTP_HOST')}".encode()]

    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=(str(cert), str(key)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}", cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_raw_over_tls_verifies_the_certificate(
    tls_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, cert = tls_server
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    async def go() -> ProbeResponse:
        async with httpx.AsyncClient() as client:
            return await RawSender(5.0).send(build_request(client, _twice(f"{base}/x")))

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(httpx.ConnectError):  # not in certifi's bundle: refused
        asyncio.run(go())
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # as httpx: trusted once named
    resp = asyncio.run(go())
    assert (resp.status, resp.text) == (200, "host=api.test,cwcanary.example")


def test_in_process_scans_say_once_that_the_duplicate_host_was_not_tried() -> None:
    """One note for the scan, not a gap per endpoint: no response was left unjudged, so
    an in-process scan of a fixed app is not inconclusive for it."""
    app = vulnerable.create_app()
    report = asyncio.run(
        scan_async(
            endpoints("http://target.test", list(classes.RAW_ROUTES)),
            creds(),
            Settings(rate=0),
            transport=AsyncWSGITransport(app),
        )
    )
    assert report.findings == ()
    assert not [n for n in report.inconclusive if "duplicate-host" in n]
    (note,) = [n for n in report.notes if "duplicate-host" in n]
    assert "in-process" in note and "not tried" in note


def _ctx() -> ProbeContext:
    ctx = ProbeContext(Endpoint("http://api.test/p"), creds(), buster=BusterState.WORKS)
    body = b'{"next": "https://api.test/p"}'
    ctx.baselines = {c.name: ProbeResponse(200, {}, body) for c in ctx.creds}
    return ctx


def test_the_second_host_spelt_host_where_only_an_exact_duplicate_is_refused() -> None:
    """A front that counts ``Host`` fields case-sensitively (400 for two ``Host``, one
    ``Host`` and an unknown ``host`` pass) and keys on its ``Host``; an origin that reads
    the last of them whatever the case."""
    store: dict[str, bytes] = {}
    sent: list[ProbeRequest] = []

    def front(req: ProbeRequest) -> ProbeResponse:
        sent.append(req)
        hosts = [v for k, v in req.headers if k.lower() == "host"] or ["api.test"]
        if [k for k, _ in req.headers if k == "Host"][1:]:
            return ProbeResponse(400, {}, b"duplicate Host")
        key = f"{hosts[0]}{req.url}"
        if key not in store:
            store[key] = f'{{"next": "https://{hosts[-1]}/p"}}'.encode()
        return ProbeResponse(200, {}, store[key])

    out = drive_with(duplicate_host.probe(_ctx()), front)
    (f,) = out
    assert (f.id, f.evidence["variant"]) == ("duplicate-host", "a second Host field spelt host")
    assert [r.raw for r in sent] == [True, True, False, False]
    assert sent[1].headers[1][0] == "host" and f.steps[0].endswith("-> 200")


def test_nothing_is_reported_where_every_duplicate_is_refused() -> None:
    def strict(req: ProbeRequest) -> ProbeResponse:
        if len([k for k, _ in req.headers if k.lower() == "host"]) > 1:
            return ProbeResponse(400, {}, b"")
        return ProbeResponse(200, {}, b'{"next": "https://api.test/p"}')

    assert drive_with(duplicate_host.probe(_ctx()), strict) == []


def test_duplicate_hosts_only_reach_busted_entries(
    vulnerable_app: object, serve: Callable[[object], str]
) -> None:
    """Over a socket, every request with two Host fields carries a fresh buster, and none
    reaches a route no buster busts (the entry real users get)."""
    seen: list[tuple[str, str]] = []
    wsgi = vulnerable_app.wsgi_app  # type: ignore[attr-defined]

    def recording(environ: dict[str, str], start: Callable[..., object]) -> object:
        if "," in environ.get("HTTP_HOST", ""):
            seen.append((environ["PATH_INFO"], environ.get("QUERY_STRING", "")))
        return wsgi(environ, start)

    vulnerable_app.wsgi_app = recording  # type: ignore[attr-defined]
    base = serve(vulnerable_app)
    paths = [*classes.RAW_ROUTES, *vulnerable.PATH_KEYED]
    asyncio.run(scan_async(endpoints(base, paths), creds(), Settings(rate=0)))
    assert {p for p, _ in seen} == set(classes.RAW_ROUTES)
    queries = [q for _, q in seen]
    assert all(q.startswith("cwcb=cw") for q in queries) and len(set(queries)) == len(queries)
