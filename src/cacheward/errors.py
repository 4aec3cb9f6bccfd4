"""Every error cacheward raises, under one root.

::

    CachewardError
    ├── ConfigurationError            bad or missing CACHEWARD_* setting, at start-up
    ├── UnsafeCacheOrder              @ward.cached placed above an auth decorator
    ├── UnkeyedInputError             a cached view read an input its key leaves out
    ├── MissingPrincipalError         a cached route ran with no principal (debug only)
    ├── UnkeyableArgument (+ TypeError) a memoized function's argument has no canonical form
    ├── UnstorableValue (+ TypeError) a value the data cache or memoize cannot store
    ├── BackendError                  a cache store failed (always caught by the guard)
    ├── KeyStoreError                 a key store failed
    ├── UnreadablePath                ``cacheward check`` was given a path it cannot read
    ├── CredentialError (+ ValueError) a malformed ``--key`` / ``CACHEWARD_SCAN_KEYS`` entry
    ├── TargetError (+ ValueError)    a URL or OpenAPI spec ``cacheward scan`` cannot use
    └── BadRequestInput               client input refused with a 4xx (``code``)
        ├── MalformedQuery            query string the cache cannot key safely
        ├── MalformedHeader           oversized or ambiguous header
        ├── ForeignCredential         a credential that cannot be a cacheward key (401)
        └── CredentialInQuery         API key sent in the URL while refused

Errors carry structured fields; none of them ever carries a secret. This module imports
no framework, so :mod:`cacheward.core` can raise these; the Flask extension registers an
error handler that answers :class:`BadRequestInput` with its ``code`` and a JSON body.
"""

from __future__ import annotations


class CachewardError(Exception):
    """Root of every cacheward error."""


class ConfigurationError(CachewardError):
    """A ``CACHEWARD_*`` setting is missing or invalid."""


class UnsafeCacheOrder(CachewardError):
    """``@ward.cached`` wraps an auth decorator: the cache would answer first.

    :param decorator: the auth decorator found below ``@ward.cached``
        (``flask_jwt_extended.jwt_required``); cacheward's own by default.
    :param fix: how to order the two for that library.
    :param message: the whole message, where the framework's problem is another one
        (FastAPI: an endpoint that does not take its principal from ``ward.protected``).
    """

    def __init__(
        self,
        view: str,
        decorator: str = "@ward.protected",
        fix: str = "put @ward.protected(...) above @ward.cached(...)",
        *,
        message: str | None = None,
    ) -> None:
        self.view = view
        self.decorator = decorator
        self.fix = fix
        super().__init__(
            message
            or f"{view}: @ward.cached is above {decorator}, so a stored response would be"
            f" served before authentication and authorization run: {fix}."
        )


class UnkeyedInputError(CachewardError):
    """A cached view read a request input that its cache key leaves out."""

    def __init__(self, route: str, input: str, fix: str) -> None:
        self.route = route
        self.input = input
        self.fix = fix
        super().__init__(f"{route} read {input}, which is not in its cache key: {fix}")


class MissingPrincipalError(CachewardError):
    """A cached route ran before any principal was established."""

    def __init__(self, route: str) -> None:
        self.route = route
        super().__init__(
            f"{route}: no principal at cache lookup time, so the response was served"
            " uncached. Put @ward.protected(...) above @ward.cached(...), or pass"
            " principal=callable to @ward.cached for another auth library."
        )


class UnkeyableArgument(CachewardError, TypeError):
    """An argument of a memoized function has no stable canonical form (an object keyed
    by its memory address, an unknown type): it cannot be part of a cache key."""

    def __init__(self, where: str, type_name: str, why: str) -> None:
        self.where = where
        self.type_name = type_name
        super().__init__(f"{where}: cannot key an argument of type {type_name}: {why}")


class UnstorableValue(CachewardError, TypeError):
    """A value that the data cache or ``memoize`` cannot store without pickle."""

    def __init__(self, where: str, type_name: str) -> None:
        self.where = where
        self.type_name = type_name
        super().__init__(
            f"{where}: cannot store a value of type {type_name}; the cache stores None,"
            " bool, int, float, str, bytes, list, tuple, dict, set, frozenset, Decimal,"
            " UUID, date, time, datetime and timedelta (convert it to one of these)"
        )


class BackendError(CachewardError):
    """The cache store failed; the guard serves uncached when it sees this."""


class KeyStoreError(CachewardError):
    """The API key store failed."""


class UnreadablePath(CachewardError):
    """A path given to ``cacheward check`` does not exist or cannot be read."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot read {path}: {reason}")


class CredentialError(CachewardError, ValueError):
    """A ``--key`` or ``CACHEWARD_SCAN_KEYS`` entry is malformed (never names the key)."""


class TargetError(CachewardError, ValueError):
    """A URL or spec that cannot be scanned."""


class BadRequestInput(CachewardError):
    """Client input the guard refuses; answered with a 4xx, never stored."""

    code = 400
    error = "bad_request"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class MalformedQuery(BadRequestInput):
    """A query string that cannot be canonicalized safely."""

    error = "malformed_query"


class MalformedHeader(BadRequestInput):
    """A header that is oversized, duplicated or ambiguous."""

    error = "malformed_header"


class ForeignCredential(BadRequestInput):
    """A credential that cannot be a cacheward key (a JWT, a session token): to the
    guard it is simply an invalid key, answered 401 like any other."""

    code = 401
    error = "invalid_key"


class CredentialInQuery(BadRequestInput):
    """An API key was sent in the query string while that is refused."""

    error = "credential_in_query"
