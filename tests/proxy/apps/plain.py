"""Control app without cacheward: answers with whoever the credential names, and with
the caching headers the query asks for, so tests can observe what a proxy does.

``GET /whoami?cc=<Cache-Control>&vary=<Vary>&cookie=1`` (each optional): the body is
``{"who": ...}`` from ``X-API-Key``, else ``Authorization``, else ``Cookie``.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request


def create_app() -> Flask:
    app = Flask("plain")

    @app.get("/whoami")
    @app.get("/whoami/<path:rest>")
    def whoami(rest: str = "") -> Response:
        who = (
            request.headers.get("X-API-Key")
            or request.headers.get("Authorization")
            or request.headers.get("Cookie")
            or "anonymous"
        )
        response = jsonify(who=who)
        if "cc" in request.args:
            response.headers["Cache-Control"] = request.args["cc"]
        if "vary" in request.args:
            response.headers["Vary"] = request.args["vary"]
        if request.args.get("cookie"):
            response.set_cookie("session", "s-" + who[-6:])
        return response

    return app
