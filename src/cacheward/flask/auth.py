"""Reading the credential from a request and turning it into a principal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response

from ..config import MAX_CREDENTIAL_LENGTH
from ..core.policy import CREDENTIAL_PARAMS
from ..core.principal import Principal
from ..core.query import parse_query
from ..errors import CredentialInQuery, ForeignCredential, KeyStoreError, MalformedHeader
from ..keys.format import looks_like_key
from .errors import error_response
from .state import State, logger


def credential_from(environ: Mapping[str, Any], state: State) -> str | None:
    """The API key a request carries, from the key header or ``Authorization: Bearer``.

    :raises MalformedHeader: two different credentials.
    :raises ForeignCredential: a credential longer than any API key (a JWT, say): it is
        an invalid key (401), not a malformed request.
    :raises CredentialInQuery: a key in the query string while that is refused.
    """
    header = environ.get(state.key_environ)
    bearer = None
    authorization = environ.get("HTTP_AUTHORIZATION")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer":
            bearer = token.strip()
    if header is not None:
        header = header.strip()
    if header and bearer and header != bearer:
        raise MalformedHeader(
            f"the request carries two different credentials ({state.key_header} and"
            " Authorization: Bearer); send one"
        )
    credential = header or bearer
    query = environ.get("QUERY_STRING")
    if query:
        from_query = _query_credential(query)
        if from_query is not None:
            if not state.allow_query_key:
                raise CredentialInQuery(
                    f"API keys are not accepted in the URL (they end up in logs, caches and"
                    f" Referer headers); send it in the {state.key_header} header"
                )
            credential = credential or from_query
    if credential is not None and len(credential) > MAX_CREDENTIAL_LENGTH:
        raise ForeignCredential("the API key is invalid or revoked")
    return credential or None


# Substrings every credential parameter name contains, as sent (maybe percent-encoded).
_QUERY_HINTS = ("key", "token", "%")


def _query_credential(query: str) -> str | None:
    """A credential in the query string: a credential parameter, or a value shaped
    like a cacheward key under any name."""
    if "=" not in query:
        return None
    lowered = query.lower()
    if "cw_" not in lowered and not any(name in lowered for name in _QUERY_HINTS):
        return None  # cheap test first: most queries carry no credential at all
    for name, value in parse_query(query):
        if name.lower() in CREDENTIAL_PARAMS or looks_like_key(value):
            return value
    return None


def authenticate(state: State, environ: Mapping[str, Any]) -> Principal | Response:
    """The principal of the request's key, or the 401/503 response to send instead."""
    try:
        credential = credential_from(environ, state)
    except ForeignCredential as e:
        return error_response(e.code, e.error, e.message)
    if credential is None:
        return error_response(
            401,
            "missing_credentials",
            f"send an API key in the {state.key_header} header or as Authorization: Bearer",
        )
    if state.keys is None:
        return error_response(500, "no_key_store", "Cacheward(app, keys=...) has no key store")
    try:
        principal = state.keys.verify(credential)
    except Exception as e:  # noqa: BLE001 - any store failure fails closed
        # No key store means no authentication, never a free pass.
        detail = str(e) if isinstance(e, KeyStoreError) else type(e).__name__
        logger.error("cacheward: key store unavailable, refusing requests: %s", detail)
        response = error_response(503, "key_store_unavailable", "try again shortly")
        response.headers["Retry-After"] = "1"
        return response
    if principal is None:
        return error_response(401, "invalid_key", "the API key is invalid or revoked")
    return principal
