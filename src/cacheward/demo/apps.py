"""The demo's two APIs: one built the common way, and the same API guarded by cacheward.

Both serve the same small, realistic API (accounts, invoices, a catalog, a profile with
links) and verify keys with the same :class:`~cacheward.keys.KeyStore`, so one set of
keys works on both:

* :func:`vulnerable_app` is what a careful reading of the Flask-Caching documentation
  gives: ``@cache.cached`` directly under ``@app.route`` (so *above* the ``X-API-Key``
  decorator), ``Cache-Control: public`` to let a CDN help, ``ProxyFix(x_host=1)`` because
  the app runs behind a proxy, and ``url_for(..., _external=True)`` links.
* :func:`guarded_app` is the same API with ``ward.protected`` + ``ward.cached``: keys
  verified and scopes checked before any lookup, entries scoped per principal (or
  ``shared`` with ``vary=``), and ``Cache-Control: private`` on every answer.

Never expose either beyond 127.0.0.1: the first one leaks by design.
"""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from flask import Flask, Response, g, jsonify, request, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from ..core.principal import Principal
from ..keys import KeyStore

#: Scope every demo route needs; the low-privilege key does not hold it.
READ = "read"

ACCOUNTS: dict[str, dict[str, str]] = {
    "alice": {
        "owner": "Alice Example",
        "iban": "DE44 5001 0517 5407 3249 31",
        "balance": "1,204.10",
    },
    "bob": {
        "owner": "Bob Example",
        "iban": "FR14 2004 1010 0505 0001 3M02 606",
        "balance": "88.00",
    },
}
INVOICES: dict[str, list[dict[str, str]]] = {
    "alice": [{"number": "INV-1001", "amount": "349.00", "status": "open"}],
    "bob": [{"number": "INV-2001", "amount": "12.50", "status": "paid"}],
}
CATALOG = {"en": ["Basic plan", "Premium plan"], "de": ["Basistarif", "Premiumtarif"]}
#: The URLs (paths) the demo scans on each app.
PATHS = ("/accounts/alice", "/invoices?status=open", "/catalog", "/profile")

View = Callable[..., Any]


def _meta() -> dict[str, str]:
    """The volatile fields real APIs add to every body (the scanner ignores them)."""
    return {
        "request_id": uuid.uuid4().hex,
        "generated_at": datetime.now(timezone.utc).isoformat(),
    }


def _invoices(principal_id: str) -> list[dict[str, str]]:
    status = request.args.get("status")
    return [i for i in INVOICES.get(principal_id, []) if status in (None, i["status"])]


def _catalog() -> dict[str, Any]:
    lang = request.headers.get("Accept-Language", "en")[:2].lower()
    return {"lang": lang, "products": CATALOG.get(lang, CATALOG["en"]), **_meta()}


def _links(principal_id: str) -> dict[str, str]:
    """The profile's absolute links (built from the request's host, as Flask does)."""
    return {
        "self": url_for("profile", _external=True),
        "account": url_for("account", account_id=principal_id, _external=True),
        "invoices": url_for("invoices", _external=True),
    }


def _key_decorator(keys: KeyStore) -> Callable[[View], View]:
    """The usual hand-written API-key decorator (it even takes ``?api_key=``)."""

    def require_key(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = request.headers.get("X-API-Key") or request.args.get("api_key", "")
            principal = keys.verify(key) if key else None
            if principal is None:
                return jsonify(error="invalid or missing API key"), 401
            if not principal.has_scopes([READ]):
                return jsonify(error="forbidden"), 403
            g.principal = principal
            return view(*args, **kwargs)

        return wrapper

    return require_key


def _public(data: dict[str, Any], status: int = 200) -> Response:
    resp = jsonify(data)
    resp.status_code = status
    resp.headers["Cache-Control"] = "public, max-age=60"  # "let the CDN help"
    return resp


def vulnerable_app(keys: KeyStore) -> Flask:
    """The API built the common way (Flask-Caching in its documented order).

    :param keys: the store that verifies ``X-API-Key``.
    :raises ImportError: when Flask-Caching is not installed.
    """
    from flask_caching import Cache

    app = Flask("cacheward_demo_vulnerable")
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    cache = Cache(app, config={"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 60})

    require_key = _key_decorator(keys)

    @app.get("/accounts/<account_id>")
    @cache.cached(timeout=60, query_string=True)
    @require_key
    def account(account_id: str) -> Response:
        if g.principal.id != account_id:
            return _public({"error": "not your account"}, 403)
        return _public({"account": account_id, **ACCOUNTS.get(account_id, {}), **_meta()})

    @app.get("/invoices")
    @cache.cached(timeout=60, query_string=True)
    @require_key
    def invoices() -> Response:
        return _public(
            {"principal": g.principal.id, "invoices": _invoices(g.principal.id), **_meta()}
        )

    @app.get("/catalog")
    @cache.cached(timeout=300, query_string=True)
    @require_key
    def catalog() -> Response:
        return _public(_catalog())

    @app.get("/profile")
    @cache.cached(timeout=60, query_string=True)
    @require_key
    def profile() -> Response:
        pid = g.principal.id
        return _public(
            {
                "principal": pid,
                "name": ACCOUNTS.get(pid, {}).get("owner"),
                "links": _links(pid),
                **_meta(),
            }
        )

    return app


def guarded_app(keys: KeyStore, *, secret: str | None = None) -> Flask:
    """The same API guarded by cacheward (memory backend, keys from ``keys``).

    :param keys: the store that verifies ``X-API-Key``.
    :param secret: ``CACHEWARD_SECRET`` (default: a fresh random one).
    """
    from .. import Cacheward, current_principal

    app = Flask("cacheward_demo_guarded")
    app.config["CACHEWARD_SECRET"] = secret or secrets.token_hex(32)
    app.config["CACHEWARD_BACKEND"] = "memory://"
    ward = Cacheward(app, keys=keys)

    def owner(principal: Principal, account_id: str) -> bool:
        return principal.id == account_id

    @app.get("/accounts/<account_id>")
    @ward.protected(READ, authorize=owner)
    @ward.cached(ttl=60)
    def account(account_id: str) -> Response:
        return jsonify(account=account_id, **ACCOUNTS.get(account_id, {}), **_meta())

    @app.get("/invoices")
    @ward.protected(READ)
    @ward.cached(ttl=60)
    def invoices() -> Response:
        pid = current_principal.id
        return jsonify(principal=pid, invoices=_invoices(pid), **_meta())

    @app.get("/catalog")
    @ward.protected(READ)
    @ward.cached(ttl=300, scope="shared", vary=["Accept-Language"])
    def catalog() -> Response:
        return jsonify(_catalog())

    @app.get("/profile")
    @ward.protected(READ)
    @ward.cached(ttl=60)
    def profile() -> Response:
        pid = current_principal.id
        return jsonify(
            principal=pid, name=ACCOUNTS.get(pid, {}).get("owner"), links=_links(pid), **_meta()
        )

    return app
