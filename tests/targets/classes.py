"""Planted bugs of the issue-16 technique classes, and their fixed twins.

Most of these bugs live in the *cache*, not the app: a CDN rule that folds case, drops
``utm_*`` from the key, stores errors, keeps the first of repeated parameters, caches
anything under ``/static/`` after decoding twice, or sends no status header. The
:class:`Edge` middleware plays that cache in front of the Flask app (in process and
behind the real proxies of ``tests/proxy``), one rule per route; ``fixed=True`` plants the
same routes done right. ``ROUTES`` maps each vulnerable route to the check id it must be
reported with (first) and the ids its bug legitimately also shows; ``TRAPS`` must yield
no finding at all.

Every cache key holds the principal's key (hashed) unless the bug is that it does not, so
that each route shows its own class and no cross-key leak on the side.
"""

from __future__ import annotations

import hashlib
import posixpath
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from flask import Flask, Response, jsonify, request

from .kit import authenticate, payload, private

ROUTES: dict[str, tuple[str, ...]] = {
    "/c/cpdos-hho": ("cpdos",),
    "/c/cpdos-hmc": ("cpdos",),
    "/c/cpdos-range": ("cpdos",),
    "/c/host-port": ("host-header",),
    "/c/cookie": ("unkeyed-cookie",),
    "/c/split": ("response-splitting", "unkeyed-param"),
    "/c/norm": ("path-normalization",),
    # the classic suffixes of cache-deception reach it too, where a proxy stores .css
    "/c/deception": ("cache-deception-path", "cache-deception"),
    "/c/pollution": ("param-pollution",),
    "/c/hidden": ("hidden-cache",),
}
#: Planted bugs only a raw request reaches (h11 sends no second ``Host``): scanned over
#: a socket (the loopback and proxy tests), not through the in-process transport.
RAW_ROUTES: dict[str, tuple[str, ...]] = {"/c/host-dup": ("duplicate-host",)}
#: Pages that must yield no finding: a dynamic page that echoes every input but is never
#: stored, and a public page that sets a visitor cookie (stored without it, as it asks).
#: ``SLOW`` is a slow public page nothing caches in process; behind nginx without
#: ``add_header X-Cache`` it is the planted ``hidden-cache`` of the proxy tests.
TRAPS = ("/c/trap/dynamic", "/c/trap/public-cookie")
SLOW = "/c/slow"
#: Reflects a header and a parameter from the end of the wordlists, where only the full
#: lists reach: scanned with them by ``tests/scan/test_scan_classes.py`` alone.
WORDLIST_ROUTE = "/c/wordlist"
DEEP_HEADER = "X-Site-Signature"
DEEP_PARAM = "options[sc_country]"
#: Extra ids the classes' probes legitimately add to routes of ``targets.vulnerable``.
ALSO = {
    "/v/settings": ("cache-deception-path",),
    "/v/links": ("host-header",),  # it falls back to request.host: a port in Host poisons
}

#: Origin limits of the planted CPDoS bugs: a header block over 1,500 bytes is a 431
#: (the public CPDoS lab's limit).
MAX_HEADER_BYTES = 1500
SLOW_S = 0.3  # far above the scanner's 25 ms threshold, on a loaded 2-core CI

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def _principal(environ: Environ) -> str:
    key = environ.get("HTTP_X_API_KEY", "")
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _pq(environ: Environ) -> str:
    return f"{environ.get('PATH_INFO', '')}?{environ.get('QUERY_STRING', '')}"


@dataclass(frozen=True)
class Rule:
    """How the edge caches one route: the key (``None``: not stored), what it stores."""

    key: Callable[[Environ], str | None]
    store: Callable[[int], bool] = lambda status: status == 200
    announce: bool = True
    strip_set_cookie: bool = False


Entry = tuple[str, list[tuple[str, str]], bytes]


class Edge:
    """A CDN in front of ``app``: the first rule whose prefix matches the path decides."""

    def __init__(self, app: WSGIApp, rules: list[tuple[Callable[[str], bool], Rule]]) -> None:
        self.app = app
        self.rules = rules
        self.store: dict[str, Entry] = {}

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        rule = next((r for match, r in self.rules if match(path)), None)
        key = rule.key(environ) if rule else None
        if rule is None or key is None:
            return self.app(environ, start_response)
        hit = self.store.get(key)
        if hit is not None:
            status, headers, body = hit
            start_response(status, [*headers, *self._status(rule, "hit")])
            return [body]
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        status, headers = captured["status"], list(captured["headers"])
        if rule.store(int(status.split()[0])):
            kept = [h for h in headers if not (rule.strip_set_cookie and h[0] == "Set-Cookie")]
            self.store[key] = (status, kept, body)
        start_response(status, [*headers, *self._status(rule, "miss")])
        return [body]

    @staticmethod
    def _status(rule: Rule, what: str) -> list[tuple[str, str]]:
        if not rule.announce:
            return []
        return [("Cache-Status", "edge; hit" if what == "hit" else "edge; fwd=miss; stored")]


def _per_key(environ: Environ) -> str:
    return f"{_pq(environ)}#{_principal(environ)}"


def _first_host(environ: Environ) -> str:
    """The key of a cache that keys on the first ``Host`` it read (the one it routes by):
    the server joined repeated fields with ``,``, as Werkzeug's and older gunicorn do."""
    return f"{environ.get('HTTP_HOST', '').split(',')[0]}{_per_key(environ)}"


def _without_utm(environ: Environ) -> str:
    kept = [p for p in environ.get("QUERY_STRING", "").split("&") if not p.startswith("utm_")]
    return f"{environ.get('PATH_INFO', '')}?{'&'.join(kept)}#{_principal(environ)}"


def _first_kept(environ: Environ) -> str:
    seen: dict[str, str] = {}
    for name, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
        seen.setdefault(name, value)  # parse_qsl decodes names: %6Cang is lang
    return f"{environ.get('PATH_INFO', '')}?{sorted(seen.items())}#{_principal(environ)}"


def _without_deep(environ: Environ) -> str:
    """The key of a CDN told to ignore one parameter and one header (it ignores every
    header but those it varies on)."""
    kept = [
        p
        for p in environ.get("QUERY_STRING", "").split("&")
        if unquote(p.partition("=")[0]) != DEEP_PARAM
    ]
    return f"{environ.get('PATH_INFO', '')}?{'&'.join(kept)}#{_principal(environ)}"


def _static_after_decoding(environ: Environ) -> str | None:
    path = posixpath.normpath(unquote(unquote(environ.get("PATH_INFO", ""))))
    return _pq(environ) if "/static/" in path + "/" else None


def _rules(fixed: bool) -> list[tuple[Callable[[str], bool], Rule]]:
    def at(prefix: str) -> Callable[[str], bool]:
        return lambda p: p == prefix

    def under(prefix: str) -> Callable[[str], bool]:
        return lambda p: p.lower().startswith(prefix)

    errors_too = (lambda s: s == 200) if fixed else (lambda s: True)
    return [
        (under("/c/cpdos-"), Rule(_per_key, store=errors_too)),
        (at("/c/host-port"), Rule(_per_key)),
        (at("/c/host-dup"), Rule(_first_host)),
        (
            at("/c/cookie"),
            Rule((lambda e: f"{_per_key(e)}#{e.get('HTTP_COOKIE', '')}") if fixed else _per_key),
        ),
        (at("/c/split"), Rule(_per_key if fixed else _without_utm)),
        (
            under("/c/norm"),
            Rule(_per_key if fixed else (lambda e: _per_key(e).lower()), store=lambda s: True),
        ),
        (under("/c/deception"), Rule(_static_after_decoding)),
        (
            at(WORDLIST_ROUTE),
            Rule(
                (lambda e: f"{_per_key(e)}#{e.get('HTTP_X_SITE_SIGNATURE', '')}")
                if fixed
                else _without_deep
            ),
        ),
        (at("/c/pollution"), Rule(_per_key if fixed else _first_kept)),
        (at("/c/hidden"), Rule(_per_key, announce=fixed)),
        (at("/c/trap/public-cookie"), Rule(_pq, strip_set_cookie=True)),
    ]


def _headers_size() -> int:
    return sum(len(k) + len(v) + 4 for k, v in request.headers.items())


def plant(app: Flask, *, fixed: bool = False) -> None:  # noqa: C901 - one view per route
    """Register the class routes on ``app`` and put the edge in front of it."""

    def authed(data: Callable[[Any], dict[str, Any]]) -> Any:
        p, err = authenticate()
        return err if p is None else private(data(p))

    def refuse(status: int, message: str) -> Response:
        resp = jsonify(payload(error=message))
        resp.status_code = status
        return resp  # no Cache-Control: the edge's error TTL decides

    @app.get("/c/cpdos-hho", endpoint="c_cpdos_hho")
    def cpdos_hho() -> Any:
        if _headers_size() > MAX_HEADER_BYTES:
            return refuse(431, "request header fields too large")
        return authed(lambda p: payload(principal=p.id, items=[1, 2]))

    @app.get("/c/cpdos-hmc", endpoint="c_cpdos_hmc")
    def cpdos_hmc() -> Any:
        if any("\\" in v for v in request.headers.values()):
            return refuse(400, "meta character in a header value")
        return authed(lambda p: payload(principal=p.id, items=[1, 2]))

    @app.get("/c/cpdos-range", endpoint="c_cpdos_range")
    def cpdos_range() -> Any:
        if request.headers.get("Range", "").startswith("bytes=9999"):
            return refuse(416, "range not satisfiable")
        return authed(lambda p: payload(principal=p.id, items=[1, 2]))

    @app.get("/c/host-port", endpoint="c_host_port")
    def host_port() -> Any:
        host = "api.example.test" if fixed else request.host  # fixed: a configured name
        return authed(lambda p: payload(principal=p.id, next=f"https://{host}/c/host-port?p=2"))

    @app.get("/c/host-dup", endpoint="c_host_dup")
    def host_dup() -> Any:
        host = request.headers.get("Host", "")  # every Host the client sent, joined
        if fixed and "," in host:  # RFC 9112 section 3.2: more than one Host is a 400
            return refuse(400, "more than one Host")
        return authed(lambda p: payload(principal=p.id, next=f"https://{host}/c/host-dup?p=2"))

    @app.get("/c/cookie", endpoint="c_cookie")
    def cookie() -> Any:
        lang = request.cookies.get("lang", "en")
        return authed(lambda p: payload(principal=p.id, lang=lang))

    @app.get("/c/split", endpoint="c_split")
    def split() -> Any:
        resp = authed(lambda p: payload(principal=p.id))
        src = request.args.get("utm_source", "direct")
        if fixed:
            resp.headers["Link"] = f"</c/split?from={quote(src, safe='')}>"  # CR/LF escaped
            return resp
        # A server that writes the header raw: CR/LF (and the UTF-8 U+560A U+560D some
        # servers cut to their low bytes) end it, and what follows is a header of its own.
        raw = src.replace("\u560a", "\n").replace("\u560d", "\r").replace("\r", "")
        first, *rest = raw.split("\n")
        resp.headers["Link"] = f"</c/split?from={first}>"
        for line in rest:
            name, sep, value = line.partition(":")
            if sep and name.strip():
                resp.headers.add(name.strip(), value.strip())
        return resp

    @app.get("/c/norm", endpoint="c_norm")
    def norm() -> Any:  # Flask routes case-sensitively: /c/NORM is a 404
        return authed(lambda p: payload(principal=p.id, page="norm"))

    @app.get("/c/deception", endpoint="c_deception")
    def deception() -> Any:
        return authed(lambda p: payload(principal=p.id, email=f"{p.id}@example.test"))

    if not fixed:

        @app.get("/c/deception/<path:rest>", endpoint="c_deception_rest")
        def deception_rest(rest: str) -> Any:  # path-info tolerance, as PHP's x.php/...
            return authed(lambda p: payload(principal=p.id, email=f"{p.id}@example.test"))

    @app.get(WORDLIST_ROUTE, endpoint="c_wordlist")
    def wordlist() -> Any:
        sig = request.headers.get(DEEP_HEADER, "none")
        country = request.args.get(DEEP_PARAM, "de")
        return authed(lambda p: payload(principal=p.id, signature=sig, country=country))

    @app.get("/c/pollution", endpoint="c_pollution")
    def pollution() -> Any:
        langs = request.args.getlist("lang") or ["en"]
        return authed(lambda p: payload(principal=p.id, lang=langs[-1]))  # the last wins

    @app.get("/c/hidden", endpoint="c_hidden")
    def hidden() -> Any:
        if not fixed:  # the twin's fix is the edge's Cache-Status; its speed is moot
            time.sleep(SLOW_S)  # an expensive view: why someone put a cache in front
        return authed(lambda p: {"principal": p.id, "plan": "pro"})  # nothing volatile

    @app.get("/c/trap/dynamic", endpoint="c_dynamic")
    def dynamic() -> Any:
        echo = {
            "headers": dict(request.headers),
            "args": request.args.to_dict(flat=False),
            "cookies": request.cookies,
        }
        resp = jsonify(payload(echo=echo))
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/c/trap/public-cookie", endpoint="c_public_cookie")
    def public_cookie() -> Any:
        resp = jsonify({"news": ["cache", "safety"]})
        resp.set_cookie("visitor", hashlib.sha256(str(time.time_ns()).encode()).hexdigest())
        resp.headers["Cache-Control"] = 'public, max-age=60, no-cache="Set-Cookie"'
        return resp

    @app.get("/c/slow", endpoint="c_slow")
    def slow() -> Any:
        time.sleep(SLOW_S)
        resp = jsonify({"catalogue": ["a", "b", "c"]})
        resp.headers["Cache-Control"] = "public, max-age=60"
        return resp

    app.wsgi_app = Edge(app.wsgi_app, _rules(fixed))  # type: ignore[method-assign]
