"""Reading the credential from an ASGI request and turning it into a principal.

The same rules as the Flask guard (:mod:`cacheward.flask.auth`): the key header or
``Authorization: Bearer``, two different credentials are a 400, a key in the query string
is refused unless allowed, a credential longer than any key is simply invalid (401), and a
key store that cannot answer refuses the request (503): no key store means no
authentication, never a free pass.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import MAX_CREDENTIAL_LENGTH
from ..core.policy import CREDENTIAL_PARAMS
from ..core.principal import Principal
from ..core.query import parse_query
from ..errors import BadRequestInput, KeyStoreError
from ..keys.format import looks_like_key
from .state import State, logger

_QUERY_HINTS = ("key", "token", "%")


@dataclass(frozen=True)
class Refusal:
    """A 4xx/503 the guard answers instead of running the endpoint (JSON, ``no-store``)."""

    status: int
    error: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    def all_headers(self) -> dict[str, str]:
        out = {"Cache-Control": "no-store", **dict(self.headers)}
        if self.status == 401:
            out["WWW-Authenticate"] = 'Bearer realm="api"'
        return out

    def body(self) -> dict[str, str]:
        return {"error": self.error, "message": self.message}


def _header_values(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in headers if k == name]


def credential_from(scope: Mapping[str, Any], state: State) -> str | Refusal | None:
    """The API key a request carries (or why it is refused, or ``None``)."""
    headers = scope["headers"]
    given = _header_values(headers, state.key_header_bytes)
    auths = _header_values(headers, b"authorization")
    if len(given) > 1 or len(auths) > 1:
        return Refusal(400, "malformed_header", "the request repeats a credential header")
    header = given[0].strip() if given else None
    bearer = None
    if auths:
        kind, _, token = auths[0].partition(" ")
        if kind.lower() == "bearer":
            bearer = token.strip()
    if header and bearer and header != bearer:
        return Refusal(
            400,
            "malformed_header",
            f"the request carries two different credentials ({state.key_header} and"
            " Authorization: Bearer); send one",
        )
    credential = header or bearer
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        try:
            from_query = _query_credential(query)
        except BadRequestInput as e:
            return Refusal(e.code, e.error, e.message)
        if from_query is not None:
            if not state.allow_query_key:
                return Refusal(
                    400,
                    "credential_in_query",
                    "API keys are not accepted in the URL (they end up in logs, caches and"
                    f" Referer headers); send it in the {state.key_header} header",
                )
            credential = credential or from_query
    if credential is not None and len(credential) > MAX_CREDENTIAL_LENGTH:
        return Refusal(401, "invalid_credentials", "the API key is invalid or revoked")
    return credential or None


def _query_credential(query: str) -> str | None:
    if "=" not in query:
        return None
    lowered = query.lower()
    if "cw_" not in lowered and not any(name in lowered for name in _QUERY_HINTS):
        return None
    for name, value in parse_query(query):
        if name.lower() in CREDENTIAL_PARAMS or looks_like_key(value):
            return value
    return None


Authorize = Callable[..., Any]


async def authenticate(
    state: State,
    scope: Mapping[str, Any],
    required: frozenset[str],
    authorize: Authorize | None,
    path_params: dict[str, Any],
) -> Principal | Refusal:
    """The principal of the request's key, if it holds ``required`` and ``authorize``
    accepts it; else the refusal to answer with."""
    credential = credential_from(scope, state)
    if isinstance(credential, Refusal):
        return credential
    if credential is None:
        return Refusal(
            401,
            "missing_credentials",
            f"send an API key in the {state.key_header} header or as Authorization: Bearer",
        )
    if state.keys is None:
        return Refusal(500, "no_key_store", "Cacheward(app, keys=...) has no key store")
    try:
        principal = await state.keys.verify(credential)
    except Exception as e:  # noqa: BLE001 - any store failure fails closed
        detail = str(e) if isinstance(e, KeyStoreError) else type(e).__name__
        logger.error("cacheward: key store unavailable, refusing requests: %s", detail)
        return Refusal(503, "key_store_unavailable", "try again shortly", (("Retry-After", "1"),))
    if principal is None:
        return Refusal(401, "invalid_credentials", "the API key is invalid or revoked")
    if not principal.has_scopes(required):
        missing = ", ".join(sorted(required - principal.scopes))
        return Refusal(403, "insufficient_scope", f"the key lacks: {missing}")
    if authorize is not None:
        allowed = authorize(principal, **path_params)
        if inspect.isawaitable(allowed):
            allowed = await allowed
        if not allowed:
            return Refusal(403, "forbidden", "this key may not access this resource")
    return principal
