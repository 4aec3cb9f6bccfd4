"""The extensions a real app runs beside its auth library (issue 14): Flask-Limiter,
flask-cors and Flask-Compress, plus the hooks that answer before the view."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, abort, current_app
from flask_compress import Compress
from flask_cors import CORS
from flask_limiter import Limiter

#: A body over Flask-Compress's minimum size, so that gzip really happens.
BIG = "x" * 2048


def install(app: Flask, limit_key: Callable[[], str], limits: str = "1000/minute") -> Limiter:
    """Flask-Limiter (keyed by ``limit_key``, the per-caller rate limit of an API),
    flask-cors and Flask-Compress on ``app``, and a maintenance hook that answers 503
    while ``MAINTENANCE`` is set."""
    limiter = Limiter(limit_key, app=app, default_limits=["1000/minute"], storage_uri="memory://")
    CORS(app)
    Compress(app)

    @app.before_request
    def maintenance():  # type: ignore[no-untyped-def]
        if current_app.config.get("MAINTENANCE"):
            return {"error": "maintenance"}, 503
        return None

    return limiter


def closed_blueprint() -> Blueprint:
    """A blueprint whose hook aborts every request with 403 before its views run."""
    bp = Blueprint("closed", __name__, url_prefix="/closed")

    @bp.before_request
    def refuse():  # type: ignore[no-untyped-def]
        abort(403)

    return bp
