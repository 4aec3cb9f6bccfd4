"""What the scanner sends and how it says what it found: no cookie jar, cookie keys,
``--header``, scans without keys, inconclusive results, and OpenAPI bases and examples.

Every target is a small Flask app served on 127.0.0.1 by the ``serve`` fixture (real
HTTP through the real client); each records what reached it.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from flask import Flask, Response, jsonify, request
from tests.targets.kit import ALICE, BOB, KEYS, TinyCache, account, path_query, payload

from cacheward.cli import main
from cacheward.scan import Credential, Endpoint, Placement, Settings, scan_async
from cacheward.scan.exchange import ProbeRequest, build_request, new_client
from cacheward.scan.runner import RateLimiter
from cacheward.scan.target import TargetError, endpoints, from_openapi

FAST = Settings(rate=0, concurrency=8)
CROSS_KEY = {"cross-key-leak", "anonymous-cache-leak", "auth-after-cache"}
Serve = Callable[[object], str]


def _app() -> tuple[Flask, list[dict[str, str]]]:
    """A target whose every response names the caller; ``seen`` holds each request's
    headers as the app got them."""
    app = Flask(__name__)
    seen: list[dict[str, str]] = []
    cache = TinyCache()

    @app.before_request
    def record() -> None:
        seen.append({"path": request.path, **{k.lower(): v for k, v in request.headers}})

    def who() -> Any:
        key = request.headers.get("X-API-Key") or request.cookies.get("session")
        return KEYS.get(key or "")

    def me() -> Response:
        p = who()
        if p is None:
            resp = jsonify(payload(error="who are you?"))
            resp.status_code = 401
            resp.headers["Cache-Control"] = "no-store"
            return resp
        return jsonify(account(p))

    @app.get("/login")
    def login() -> Response:  # hands out a tracking cookie, as many landing pages do
        resp = jsonify(payload(hello="world"))
        resp.set_cookie("sid", "trackme0123456789")
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/me")
    @cache.cached(path_query)  # the planted leak: the key leaves out who asked
    def me_route() -> Response:
        return me()

    @app.get("/me-cookie-keyed")
    @cache.cached(lambda: f"{request.path}#{request.cookies.get('cwcb')}")
    def me_cookie_keyed() -> Response:  # ignores the query: only the buster cookie busts
        return me()

    @app.get("/public")
    @cache.cached(path_query)
    def public() -> Response:  # reflects a header the cache key leaves out
        host = request.headers.get("X-Forwarded-Host", "example.test")
        return jsonify(payload(link=f"https://{host}/news"))

    @app.get("/dynamic")
    @cache.cached(lambda: f"{path_query()}#{request.headers.get('X-API-Key', '')}")
    def dynamic() -> Response:  # public, different on every miss: a trap for the oracle
        resp = jsonify(payload(lucky=random.randint(0, 10**9), news=["a", "b"]))
        resp.headers["Cache-Control"] = "public, max-age=60"
        return resp

    @app.get("/static-page")
    @cache.cached(lambda: request.path)  # path alone: nothing busts, nothing is per user
    def static_page() -> Response:
        return jsonify(payload(news=["cache", "safety"]))

    @app.get("/items/<item>")
    @cache.cached(path_query)
    def item(item: str) -> Response:
        return jsonify(payload(item=item))

    @app.get("/news")
    @cache.cached(path_query)
    def news() -> Response:  # public and keyed right: nothing to find
        return jsonify(payload(news=["cache", "safety"]))

    return app, seen


def _creds(placement: Placement = Placement.HEADER) -> list[Credential]:
    return [
        Credential("alice", ALICE, placement, cookie="session"),
        Credential("bob", BOB, placement, cookie="session"),
    ]


def _ids(report: Any) -> set[tuple[str, str]]:
    return {(f.url.rsplit("/", 1)[-1], f.id) for f in report.findings}


# -- D. no cookie jar ---------------------------------------------------------------


def test_a_set_cookie_is_never_replayed_and_the_leak_beside_it_is_found(serve: Serve) -> None:
    app, seen = _app()
    base = serve(app)
    report = asyncio.run(
        scan_async([Endpoint(base + "/login"), Endpoint(base + "/me")], _creds(), FAST)
    )
    assert ("me", "cross-key-leak") in _ids(report)
    assert any(r["path"] == "/login" for r in seen)
    after_login = seen[[r["path"] for r in seen].index("/login") + 1 :]
    assert after_login, "the scan sent nothing after the cookie was set"
    assert not [r for r in seen if "trackme" in r.get("cookie", "")]


def test_the_client_keeps_no_cookie(serve: Serve) -> None:
    app, seen = _app()
    base = serve(app)

    async def twice() -> httpx.Cookies:
        async with new_client(None, 5.0) as client:
            for _ in range(2):
                await client.send(build_request(client, ProbeRequest(base + "/login")))
            return client.cookies

    assert len(asyncio.run(twice())) == 0
    assert [r.get("cookie") for r in seen] == [None, None]


def test_every_cookie_travels_in_one_cookie_header() -> None:
    client = httpx.Client(headers={"Cookie": "consent=yes"})
    cred = Credential("alice", ALICE, Placement.COOKIE, cookie="session")
    req = build_request(
        client, ProbeRequest("http://127.0.0.1:1/x", cred, headers=(("Cookie", "cwcb=cw1"),))
    )
    assert req.headers.get_list("cookie") == [f"consent=yes; session={ALICE}; cwcb=cw1"]
    client.close()


def test_cookie_keys_find_the_leak_with_a_cookie_buster(serve: Serve, tmp_path: Path) -> None:
    """The key is a session cookie and only the buster cookie busts: both must arrive
    in one Cookie header, or the session is lost and the leak with it."""
    app, seen = _app()
    base = serve(app)
    out = tmp_path / "r.json"
    res = CliRunner().invoke(
        main,
        [
            "scan",
            base + "/me-cookie-keyed",
            "--key-cookie",
            "session",
            "--key",
            f"alice={ALICE}",
            "--key",
            f"bob={BOB}",
            "--rate",
            "0",
            "--format",
            "json",
            "-o",
            str(out),
        ],
    )
    text = out.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert res.exit_code == 1, res.output
    assert "cross-key-leak" in {f["id"] for f in doc["findings"]}
    assert any("cookie cwcb" in n for n in doc["notes"])  # the buster went in a cookie
    for r in seen:
        assert "," not in r.get("cookie", ""), r  # never two Cookie headers, merged by the server
    assert any("cwcb=" in r.get("cookie", "") and "session=" in r["cookie"] for r in seen)
    for raw in (ALICE, BOB):
        assert raw not in text + res.output and raw[-12:] not in text + res.output


def test_required_headers_reach_every_request_and_stay_out_of_reports(
    serve: Serve, tmp_path: Path
) -> None:
    app, seen = _app()

    @app.before_request
    def tenant() -> Any:
        if request.headers.get("X-Gateway-Token") != "t-secret-1234":
            return jsonify(error="tenant required"), 400
        return None

    base = serve(app)
    res = CliRunner().invoke(
        main,
        [
            "scan",
            base + "/me",
            "--header",
            "X-Gateway-Token: t-secret-1234",
            "--header",
            "Cookie: consent=yes",
            "--key",
            f"alice={ALICE}",
            "--key",
            f"bob={BOB}",
            "--rate",
            "0",
            "--format",
            "sarif",
        ],
    )
    assert res.exit_code == 1, res.output
    missing = [r["path"] for r in seen if r.get("x-gateway-token") != "t-secret-1234"]
    assert seen and missing == []
    assert all(r.get("cookie", "").startswith("consent=yes") for r in seen)
    assert "t-secret-1234" not in res.stdout


@pytest.mark.parametrize(
    ("header", "why"),
    [("no colon", "not 'Name: value'"), ("X-API-Key: x", "cannot be set"), ("Host: a", "cannot")],
)
def test_bad_required_headers_are_usage_errors(header: str, why: str) -> None:
    res = CliRunner().invoke(
        main, ["scan", "http://127.0.0.1:9/x", "--key", f"a={ALICE}", "--header", header]
    )
    assert res.exit_code == 2 and why in res.stderr
    assert "Traceback" not in res.output and ALICE not in res.output


# -- H. public targets --------------------------------------------------------------


def test_a_scan_without_keys_runs_the_public_checks(serve: Serve) -> None:
    app, _ = _app()
    base = serve(app)
    res = CliRunner().invoke(
        main,
        ["scan", base + "/public", base + "/dynamic", "--rate", "0", "--format", "json"],
        env={"CACHEWARD_SCAN_KEYS": ""},
    )
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    ids = {(f["url"].rsplit("/", 1)[-1], f["id"]) for f in doc["findings"]}
    assert ("public", "unkeyed-header") in ids
    assert not {i for _, i in ids} & CROSS_KEY
    assert any("cross-key checks" in n and "skipped" in n for n in doc["notes"])
    assert not any("cross-key checks" in n for n in doc["inconclusive"])


def test_dummy_keys_on_public_pages_make_no_cross_key_finding(serve: Serve) -> None:
    app, _ = _app()
    base = serve(app)
    dummies = [Credential("a", "dummy-key-aaaaaaaa"), Credential("b", "dummy-key-bbbbbbbb")]
    urls = [Endpoint(base + p) for p in ("/dynamic", "/static-page", "/login")]
    report = asyncio.run(scan_async(urls, dummies, FAST))
    assert not {f.id for f in report.findings} & CROSS_KEY, report.findings


def test_dummy_keys_on_a_dynamic_public_page_make_no_cross_key_finding(serve: Serve) -> None:
    app, _ = _app()

    @app.get("/lottery")
    @TinyCache().cached(path_query)
    def lottery() -> Response:
        resp = jsonify(payload(lucky=random.randint(0, 10**9)))
        resp.headers["Cache-Control"] = "public, max-age=60"
        return resp

    base = serve(app)
    dummies = [Credential("a", "dummy-key-aaaaaaaa"), Credential("b", "dummy-key-bbbbbbbb")]
    report = asyncio.run(scan_async([Endpoint(base + "/lottery")], dummies, FAST))
    assert not {f.id for f in report.findings} & CROSS_KEY


# -- G. output ----------------------------------------------------------------------


def test_an_untestable_endpoint_is_inconclusive_in_every_format(
    serve: Serve, tmp_path: Path
) -> None:
    app, _ = _app()
    base = serve(app)
    argv = ["scan", base + "/static-page", "--key", f"alice={ALICE}", "--key", f"bob={BOB}"]
    argv += ["--rate", "0"]
    runner = CliRunner()
    texts = {}
    for fmt in ("text", "json", "sarif", "html"):
        res = runner.invoke(main, [*argv, "--format", fmt, "-o", str(tmp_path / fmt)])
        assert res.exit_code == 3, res.output
        texts[fmt] = (tmp_path / fmt).read_text(encoding="utf-8")
    doc = json.loads(texts["json"])
    assert doc["findings"] == [] and doc["inconclusive"]
    gaps = doc["inconclusive"]
    assert set(gaps) <= set(doc["notes"])
    run = json.loads(texts["sarif"])["runs"][0]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is True
    warned = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert set(gaps) <= set(warned) and set(doc["notes"]) == set(warned)
    levels = {n["message"]["text"]: n["level"] for n in invocation["toolExecutionNotifications"]}
    assert {levels[g] for g in gaps} == {"warning"}
    assert run["properties"]["inconclusive"] is True
    assert "INCONCLUSIVE" in texts["text"] and "not tested: " in texts["text"]
    assert 'id="inconclusive"' in texts["html"] and "✔ No findings" not in texts["html"]
    ok = runner.invoke(main, [*argv, "--inconclusive-ok", "--format", "json"])
    assert ok.exit_code == 0, ok.output


def test_the_check_it_by_hand_note_reaches_sarif(serve: Serve) -> None:
    app, _ = _app()
    base = serve(app)
    res = CliRunner().invoke(
        main,
        ["scan", base + "/static-page", "--key", f"alice={ALICE}", "--key", f"bob={BOB}"]
        + ["--rate", "0", "--format", "sarif"],
    )
    notes = json.loads(res.stdout)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    by_hand = [n for n in notes if "by hand" in n["message"]["text"]]
    assert by_hand and by_hand[0]["level"] == "warning", notes


def test_an_unwritable_output_is_one_line_and_exit_2_before_scanning(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "x.json"
    for cmd in (["scan", "http://127.0.0.1:9/x"], ["check", str(tmp_path)]):
        res = CliRunner().invoke(main, [*cmd, "--output", str(target)])
        assert res.exit_code == 2, res.output
        assert res.stderr.count("\n") == 1 and "cannot write" in res.stderr
        assert "Traceback" not in res.output


def test_fail_on_takes_the_same_choices_in_both_commands() -> None:
    from cacheward.check.cli import check_command
    from cacheward.scan.cli import scan_command

    def choices(cmd: Any) -> dict[str, Any]:
        return {
            p.name: (getattr(p.type, "choices", None), p.opts)
            for p in cmd.params
            if p.name in ("fmt", "output_path", "fail_on", "inconclusive_ok")
        }

    assert choices(scan_command) == choices(check_command)
    assert "info" in choices(scan_command)["fail_on"][0]


# -- OpenAPI ------------------------------------------------------------------------


def test_swagger_2_base_path_and_openapi_3_servers() -> None:
    swagger = {"swagger": "2.0", "basePath": "/api/v2", "paths": {"/me": {"get": {}}}}
    assert [e.url for e in from_openapi(swagger, "http://127.0.0.1:1")[0]] == [
        "http://127.0.0.1:1/api/v2/me"
    ]
    # the URL given may already hold the base path: it is not added twice
    assert [e.url for e in from_openapi(swagger, "http://127.0.0.1:1/api/v2/")[0]] == [
        "http://127.0.0.1:1/api/v2/me"
    ]
    for server, want in [
        ({"url": "https://api.example.com/v1"}, "http://127.0.0.1:1/v1/me"),  # host ignored
        ({"url": "/v1/"}, "http://127.0.0.1:1/v1/me"),
        ({"url": "v1"}, "http://127.0.0.1:1/v1/me"),
        ({"url": "./v1"}, "http://127.0.0.1:1/v1/me"),
        ({"url": "//cdn.example.com/v2"}, "http://127.0.0.1:1/v2/me"),
        (
            {"url": "https://{env}.example.com/{ver}", "variables": {"ver": {"default": "v3"}}},
            "http://127.0.0.1:1/v3/me",
        ),
        ({"url": "/"}, "http://127.0.0.1:1/me"),
    ]:
        spec = {"openapi": "3.0.3", "servers": [server], "paths": {"/me": {"get": {}}}}
        assert [e.url for e in from_openapi(spec, "http://127.0.0.1:1")[0]] == [want], server
    op_level = {
        "openapi": "3.0.3",
        "servers": [{"url": "/v1"}],
        "paths": {"/me": {"get": {"servers": [{"url": "/v9"}]}}},
    }
    assert from_openapi(op_level, "http://127.0.0.1:1")[0][0].url == "http://127.0.0.1:1/v9/me"


def test_path_parameter_values_from_the_spec_and_the_command_line() -> None:
    spec = {
        "openapi": "3.1.0",
        "components": {"parameters": {"Id": {"name": "id", "in": "path", "example": 7}}},
        "paths": {
            "/a/{id}": {"get": {"parameters": [{"$ref": "#/components/parameters/Id"}]}},
            "/b/{sku}": {
                "get": {
                    "parameters": [{"name": "sku", "in": "path", "schema": {"examples": ["s 1"]}}]
                }
            },
            "/c/{kind}": {
                "get": {
                    "parameters": [{"name": "kind", "in": "path", "schema": {"enum": ["x", "y"]}}]
                }
            },
            "/d/{user}": {
                "get": {"parameters": [{"name": "user", "in": "path", "x-example": "u1"}]}
            },
            "/e/{ref}/f/{uid}": {"get": {}, "head": {}, "post": {}},
            "/g/{nope}": {"get": {}},
        },
    }
    eps, notes = from_openapi(spec, "http://127.0.0.1:1")
    assert [e.url.removeprefix("http://127.0.0.1:1") for e in eps] == [
        "/a/7",
        "/b/s%201",
        "/c/x",
        "/d/u1",
    ]
    assert len(notes) == 1
    assert "skipped 3 of 7 GET/HEAD operations" in notes[0]
    assert "GET /g/{nope} (nope)" in notes[0] and "--path-param" in notes[0]
    eps, notes = from_openapi(spec, "http://127.0.0.1:1", {"ref": "r1", "uid": "9", "id": "42"})
    urls = [e.url.removeprefix("http://127.0.0.1:1") for e in eps]
    assert "/e/r1/f/9" in urls and "/a/42" in urls  # the command line wins over the spec
    assert "skipped 1 of 7" in notes[0]
    with pytest.raises(TargetError):
        endpoints(["http://127.0.0.1:1"], None, {"id": "1"})


def test_skipped_operations_make_a_cli_scan_inconclusive(serve: Serve, tmp_path: Path) -> None:
    app, _ = _app()
    base = serve(app)
    spec = tmp_path / "api.json"
    spec.write_text(
        json.dumps(
            {
                "swagger": "2.0",
                "basePath": "/",
                "paths": {"/news": {"get": {}}, "/items/{id}": {"get": {}}},
            }
        ),
        encoding="utf-8",
    )
    argv = ["scan", base, "--openapi", str(spec), "--rate", "0", "--format", "json"]
    res = CliRunner().invoke(main, argv, env={"CACHEWARD_SCAN_KEYS": ""})
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout)
    assert any("skipped 1 of 2" in g for g in doc["inconclusive"])
    res = CliRunner().invoke(main, [*argv, "--path-param", "id=1"], env={"CACHEWARD_SCAN_KEYS": ""})
    assert res.exit_code == 0, res.output


# -- the rate limiter reads an injected clock ------------------------------------------


def test_rate_limiter_spaces_starts_on_its_clock() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    limiter = RateLimiter(4.0, clock=lambda: now[0], sleep=sleep)

    async def five() -> None:
        for _ in range(5):
            await limiter.wait()

    asyncio.run(five())
    assert slept == [0.25, 0.25, 0.25, 0.25]
    asyncio.run(RateLimiter(0, clock=lambda: 1 / 0).wait())  # unlimited never reads it


def test_an_unreadable_spec_is_one_line_and_exit_2(tmp_path: Path) -> None:
    spec = tmp_path / "api.yaml"
    spec.write_bytes(b"paths:\n  /\xff: {}\n")
    res = CliRunner().invoke(main, ["scan", "http://127.0.0.1:9", "--openapi", str(spec)])
    assert res.exit_code == 2, res.output
    assert res.stderr.count("\n") == 1 and "not UTF-8" in res.stderr


def test_a_check_that_breaks_is_exit_2_not_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cacheward.check.cli as check_cli

    def broken(*_: Any, **__: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(check_cli, "check_paths", broken)
    res = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert res.exit_code == 2, res.output
    assert res.stderr == (
        "cacheward check: error: internal error: RecursionError: maximum recursion depth"
        " exceeded (please report this)\n"
    )


def test_a_scan_that_reached_nothing_is_a_failed_sarif_run() -> None:
    res = CliRunner().invoke(
        main,
        ["scan", "http://127.0.0.1:9/x", "--key", f"a={ALICE}", "--timeout", "1"]
        + ["--format", "sarif"],
    )
    assert res.exit_code == 2, res.output
    (invocation,) = json.loads(res.stdout)["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    texts = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert any("not scanned" in t for t in texts)
    assert res.stderr.endswith(
        "cacheward scan: error: no endpoint could be scanned (see the notes)\n"
    )
