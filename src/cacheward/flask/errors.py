"""JSON error responses the guard answers with; never cacheable, never a secret."""

from __future__ import annotations

from flask import Response, json

from ..errors import BadRequestInput

NO_STORE = "no-store"


def error_response(status: int, error: str, message: str) -> Response:
    """A JSON error body with ``Cache-Control: no-store``."""
    body = json.dumps({"error": error, "message": message})
    response = Response(body + "\n", status=status, mimetype="application/json")
    response.headers["Cache-Control"] = NO_STORE
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def bad_input_response(e: BadRequestInput) -> Response:
    """The answer to input the guard refuses (registered as an error handler)."""
    return error_response(e.code, e.error, e.message)
