"""No raw API key anywhere (invariant 2, and "errors carry no secret").

One end-to-end run: the guard answers good, bad, revoked and misplaced keys and raises its
strict-mode errors; ``flask cacheward keys list|revoke`` runs; ``cacheward scan`` probes the
vulnerable target and the guarded app on loopback in every format, with the key in a
header, as a Bearer token and in the query; ``cacheward check`` reads source with a key
pasted into it. Every log record (captured at DEBUG by caplog and by a handler of our own
on the root logger, tracebacks included), every report, CLI output, response and
exception message is then searched for each raw key, its secret part and its last 12
characters: 0 hits; so is the whole Redis keyspace the guard cached into (``SCAN``, then
every value).
"""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from flask import Flask, jsonify, request
from tests.scan.conftest import serve  # noqa: F401 - the loopback server fixture
from tests.support.redis import RedisServer
from tests.targets import vulnerable
from tests.targets.kit import ALICE, BOB, EVE

from cacheward import Cacheward, current_principal
from cacheward.cli import main
from cacheward.keys import SQLiteKeyStore
from cacheward.keys import format as key_format

SECRET = "secrets-test-secret-0123456789abcdef"


def needles(plaintexts: list[str]) -> list[str]:
    """What must never appear: each key, its secret part and its tail."""
    out = []
    for key in plaintexts:
        out += [key, key[-12:]]
        parsed = key_format.parse(key)
        if parsed is not None:
            out.append(parsed.secret)
    return out


class Everything(logging.Handler):
    """A root handler that formats every record as a real log file would, traceback
    included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.stream = io.StringIO()
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.stream.write(self.format(record) + "\n")


@pytest.fixture
def everything() -> Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)


@pytest.fixture
def redis_url() -> Iterator[str]:
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.cleanup()


def keyspace(url: str) -> str:
    """Every key of the Redis database and every value, as text."""
    out = []
    with redis.Redis.from_url(url) as client:
        for name in client.scan_iter(match="*"):
            out.append(repr(name))
            kind = client.type(name)
            if kind == b"string":
                out.append(repr(client.get(name)))
            elif kind == b"hash":
                out.append(repr(client.hgetall(name)))
            else:
                out.append(repr(client.dump(name)))
    return "\n".join(out)


def guarded_app(db: Path, redis_url: str) -> tuple[Flask, Cacheward, SQLiteKeyStore]:
    app = Flask("secrets")
    app.config.update(
        CACHEWARD_SECRET=SECRET, CACHEWARD_STRICT=True, DEBUG=False, CACHEWARD_BACKEND=redis_url
    )
    store = SQLiteKeyStore(db)
    ward = Cacheward(app, keys=store)

    @app.get("/me")
    @ward.protected("read")
    @ward.cached(ttl=60)
    def me():  # type: ignore[no-untyped-def]
        return jsonify(principal=current_principal.id, q=request.args.get("q"))

    @app.get("/unkeyed")
    @ward.protected("read")
    @ward.cached(ttl=60)
    def unkeyed():  # type: ignore[no-untyped-def]
        return jsonify(agent=request.headers.get("User-Agent"))  # not in the key

    @app.get("/shared-reads-principal")
    @ward.protected("read")
    @ward.cached(ttl=60, scope="shared")
    def shared():  # type: ignore[no-untyped-def]
        return jsonify(principal=current_principal.id)

    @app.get("/no-principal")
    @ward.cached(ttl=60)
    def no_principal():  # type: ignore[no-untyped-def]
        return jsonify(ok=True)

    return app, ward, store


def test_no_raw_key_in_logs_reports_or_errors(
    serve: Callable[[object], str],  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    everything: Everything,
    redis_url: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    app, ward, store = guarded_app(tmp_path / "keys.db", redis_url)
    alice = store.create("alice", ["read"]).plaintext
    bob = store.create("bob", ["read"]).plaintext
    revoked_issued = store.create("mallory", ["read"])
    revoked = revoked_issued.plaintext
    ours = [alice, bob, revoked]
    texts: list[str] = []
    errors: list[BaseException] = []

    # --- the guard ------------------------------------------------------------------
    client = app.test_client()
    mangled = alice[:-1] + ("A" if alice[-1] != "A" else "B")
    requests: list[tuple[str, dict[str, str]]] = [
        ("/me", {"X-API-Key": alice}),
        ("/me", {"X-API-Key": alice}),  # a hit
        ("/me?q=1", {"Authorization": f"Bearer {bob}"}),
        ("/me", {"X-API-Key": mangled}),
        ("/me", {"X-API-Key": alice + "x"}),
        ("/me", {"X-API-Key": alice * 10}),
        ("/me", {"X-API-Key": alice, "Authorization": f"Bearer {bob}"}),
        (f"/me?api_key={alice}", {}),
        (f"/me?q={bob}", {"X-API-Key": alice}),
        ("/me", {"X-API-Key": revoked}),
    ]
    for path, headers in requests:
        r = client.get(path, headers=headers)
        texts += [r.get_data(as_text=True), str(r.headers)]
        if path == "/me" and headers.get("X-API-Key") == revoked:
            store.revoke(revoked_issued.id)
            r = client.get(path, headers=headers)
            assert r.status_code == 401
            texts += [r.get_data(as_text=True), str(r.headers)]
    for path, headers in [
        ("/unkeyed", {"X-API-Key": alice, "User-Agent": alice}),
        ("/shared-reads-principal", {"X-API-Key": bob}),
        ("/no-principal", {"X-API-Key": alice}),
    ]:
        app.testing = True  # strict-mode errors propagate to the test
        try:
            client.get(path, headers=headers)
        except Exception as e:  # noqa: BLE001 - every error's text is searched
            errors.append(e)
        app.testing = False
    assert {type(e).__name__ for e in errors} == {"UnkeyedInputError", "MissingPrincipalError"}
    for e in errors:
        texts += [str(e), repr(e), "".join(traceback.format_exception(e))]
    cli = app.test_cli_runner()
    for args in (
        ["cacheward", "keys", "list"],
        ["cacheward", "keys", "list", "--json"],
        ["cacheward", "keys", "revoke", bob],  # a whole leaked key is accepted, never echoed
        ["cacheward", "keys", "revoke", bob],
    ):
        result = cli.invoke(args=args)
        texts += [result.output, repr(result.exception)]

    # --- the scanner, against the vulnerable target and the guarded app -------------
    runner = CliRunner()
    vulnerable_base = serve(vulnerable.create_app())
    fresh = store.create("alice", ["read"]).plaintext
    carol = store.create("carol", ["read"]).plaintext
    ours += [fresh, carol]
    guarded_base = serve(app)
    scans = [
        [vulnerable_base + p for p in ("/v/orders", "/v/search", "/v/links", "/v/profile")]
        + ["--key", f"alice={ALICE}", "--key", f"bob={BOB}", "--key", f"eve={EVE}"]
        + ["--low-key", "eve"],
        [guarded_base + "/me", "--key", f"alice={fresh}", "--key", f"carol={carol}"],
        [guarded_base + "/me", "--key", f"alice={fresh}", "--key", f"carol={carol}"]
        + ["--key-bearer"],
        [guarded_base + "/me", "--key", f"alice={fresh}", "--key", f"carol={carol}"]
        + ["--key-query", "api_key"],
    ]
    for n, scan in enumerate(scans):
        for fmt in ("text", "json", "sarif", "html"):
            out = tmp_path / f"scan-{n}.{fmt}"
            result = runner.invoke(
                main,
                ["scan", *scan, "--rate", "0", "--budget", "60", "-v", "--format", fmt]
                + ["--output", str(out)],
            )
            assert result.exit_code in (0, 1, 3), result.output  # 3: inconclusive
            texts += [result.stdout, result.stderr, out.read_text(encoding="utf-8")]
            if result.exception and not isinstance(result.exception, SystemExit):
                texts.append("".join(traceback.format_exception(result.exception)))

    # --- the checker, on source with a key pasted into it ----------------------------
    src = tmp_path / "src" / "app.py"
    src.parent.mkdir()
    src.write_text(
        "from flask import Flask, request\n"
        "from flask_caching import Cache\n"
        "app = Flask(__name__)\n"
        "cache = Cache(app)\n"
        f"ADMIN_KEY = {alice!r}\n"
        "@app.get('/admin')\n"
        "@cache.cached(key_prefix=lambda: request.headers['X-API-Key'])\n"
        "def admin():\n"
        f"    if request.args.get('api_key') == {bob!r}:\n"
        "        return 'ok'\n"
        "    return 'no'\n",
        encoding="utf-8",
    )
    for fmt in ("text", "json", "sarif", "html"):
        result = runner.invoke(main, ["check", str(src.parent), "--format", fmt])
        assert result.exit_code == 1, result.output
        texts += [result.stdout, result.stderr]

    # --- search everything ----------------------------------------------------------
    texts.append("\n".join(caplog.messages))
    texts.append("\n".join(logging.Formatter().format(r) for r in caplog.records))
    texts.append(everything.stream.getvalue())
    assert "cacheward" in texts[-1], "the root handler saw no cacheward record"
    space = keyspace(redis_url)
    assert ":e:" in space, "nothing was cached in Redis"
    texts.append(space)
    hay = "\n".join(texts)
    # Redacted, not absent: the outputs do name the keys, by id.
    assert f"alice=cw_…{fresh[-2:]}" in hay and "UnkeyedInputError" in hay
    hits = {n[:6] + "…": hay.count(n) for n in needles(ours + [ALICE, BOB, EVE]) if n in hay}
    assert hits == {}, f"raw key material found: {hits}"
    print(f"secrets: searched {len(hay):,} characters of output; 0 hits")
