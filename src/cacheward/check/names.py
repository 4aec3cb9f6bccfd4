"""Names and source patterns the checker recognises in Flask code.

Everything here is a pure function of an :mod:`ast` node: no model, no I/O.
"""

from __future__ import annotations

import ast
import re

from ..core.policy import CREDENTIAL_PARAMS

#: Request headers that carry a credential (lower case).
CREDENTIAL_HEADERS = frozenset(
    {
        "x-api-key",
        "api-key",
        "apikey",
        "authorization",
        "proxy-authorization",
        "x-auth-token",
        "x-access-token",
        "x-token",
    }
)

#: Query parameter names that *may* carry a credential, as hints for reading source.
#: A superset of :data:`cacheward.core.policy.CREDENTIAL_PARAMS` (the six names the guard
#: refuses in URLs and drops from keys): the checker also sees ``key``, ``token``,
#: ``jwt``... in code it cannot run, where a wider net only costs a closer look (the
#: ambiguous ``key``/``token`` are reported only where the function also denies access).
#: The guard's list stays narrow because it acts on live requests, where a false match
#: rejects a real parameter.
CREDENTIAL_NAME_HINTS = CREDENTIAL_PARAMS | frozenset(
    {"key", "token", "auth", "jwt", "secret", "password"}
)


#: Variable names that hold a raw credential.
CREDENTIAL_NAME = re.compile(
    r"^(x_)?(api_?key|apikey|token|access_token|auth_token|bearer(_token)?|authorization"
    r"|auth_header|credentials?|raw_key|password|jwt)$",
    re.IGNORECASE,
)

#: Cookie names that carry a credential or a session (``token``, ``access_token``,
#: ``session``, ``sessionid``...): a view that reads one depends on who is calling.
COOKIE_CREDENTIAL = re.compile(
    rf"{CREDENTIAL_NAME.pattern}|^(session(_?id)?|sid|remember_token)$", re.IGNORECASE
)

#: Flask-Caching ``CACHE_TYPE`` values whose store is shared between processes (lower case).
SHARED_CACHE_TYPES = frozenset(
    {
        "redis",
        "rediscache",
        "redisclustercache",
        "redissentinelcache",
        "memcached",
        "memcachedcache",
        "saslmemcached",
        "saslmemcachedcache",
        "spreadsaslmemcached",
        "spreadsaslmemcachedcache",
    }
)

#: Last names of decorators that authenticate (flask-httpauth, Flask-Login,
#: flask-jwt-extended, Flask-Security and common hand-written ones).
AUTH_DECORATORS = frozenset(
    {
        "login_required",
        "fresh_login_required",
        "jwt_required",
        "fresh_jwt_required",
        "auth_required",
        "roles_required",
        "roles_accepted",
        "permission_required",
        "token_required",
        "api_key_required",
        "require_api_key",
        "requires_auth",
    }
)

#: Calls that perform an authentication or authorization check when they are not
#: followed into (unresolved helpers, third-party functions).
AUTH_CALL = re.compile(
    r"^(verify_jwt_in_request|authorize\w*|require_\w+|check_\w*(auth|access|owner|perm|key|token)\w*"
    r"|ensure_\w*(auth|access|owner|perm)\w*|assert_\w*(owner|access|perm)\w*)$"
)

#: Calls that return the caller's identity.
IDENTITY_CALLS = frozenset({"get_jwt_identity", "get_jwt", "get_current_user", "current_user"})

#: Bare names that are the caller's identity (``session`` only when imported from flask).
IDENTITY_NAMES = frozenset({"current_user", "current_identity", "current_principal"})

#: ``g`` attributes that conventionally hold the caller or its credential.
G_IDENTITY = frozenset({"user", "current_user", "principal", "identity", "account", "tenant"})
G_CREDENTIAL = frozenset({"api_key", "apikey", "token", "credential"})

#: ``request`` attributes that depend on the Host header.
HOST_ATTRS = frozenset({"host", "host_url", "url_root", "url", "base_url", "root_url"})

#: ``request`` attributes that depend on the query string.
QUERY_ATTRS = frozenset(
    {"args", "values", "query_string", "full_path", "url", "query_params"}  # + Starlette's
)

#: Methods of Flask and Blueprint objects that register a route.
ROUTE_METHODS = frozenset(
    {"route", "get", "post", "put", "patch", "delete", "head", "options", "api_route"}
)

#: Classes of objects whose route methods register views (Flask and FastAPI).
APP_KINDS = frozenset({"Flask", "Blueprint", "FastAPI", "APIRouter"})

#: Methods of a cache that read it.
LOOKUP_METHODS = frozenset({"get", "has", "get_many", "get_dict", "__contains__"})

#: Methods of a cache whose first argument is a key.
KEYED_METHODS = LOOKUP_METHODS | {"set", "add", "delete", "inc", "dec", "setdefault"}

#: Status codes that mean "not authenticated" or "not authorized".
DENY_STATUSES = frozenset({401, 403})

#: Exception names that deny access.
DENY_EXCEPTIONS = re.compile(
    r"(Unauthorized|Forbidden|PermissionDenied|NotAuthenticated|AuthError)"
)


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else ``None``.

    :param node: an expression.
    """
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def last(name: str) -> str:
    """The last component of a dotted name."""
    return name.rsplit(".", 1)[-1]


def const_str(node: ast.AST | None) -> str | None:
    """The value of a string constant, else ``None``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def const_int(node: ast.AST | None) -> int | None:
    """The value of an integer constant (not a bool), else ``None``."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    return None


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    """The value passed as keyword ``name`` to ``call``, else ``None``."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def truthy(node: ast.AST | None) -> bool:
    """Whether ``node`` is a constant that is true (a non-constant counts as true)."""
    if node is None:
        return False
    if isinstance(node, ast.Constant):
        return bool(node.value)
    return True


#: Constructors of containers that live inside one process (memo tables, not shared caches).
IN_PROCESS = frozenset(
    {
        "dict",
        "defaultdict",
        "OrderedDict",
        "WeakValueDictionary",
        "TTLCache",
        "LRUCache",
        "set",
        "list",
        "Counter",
        "ChainMap",
    }
)


def is_in_process(value: ast.AST | None) -> bool:
    """Whether ``value`` builds a container private to the process (``{}``, ``dict()``)."""
    if isinstance(value, ast.Dict | ast.Set | ast.List | ast.DictComp):
        return True
    if isinstance(value, ast.Call):
        return last(dotted(value.func) or "") in IN_PROCESS
    return False


def is_cacheish(
    node: ast.AST, caches: frozenset[str] = frozenset(), maps: frozenset[str] = frozenset()
) -> bool:
    """Whether ``node`` names a cache: a known cache object or a name containing ``cache``.

    :param node: the receiver of a method call, subscript or ``in``.
    :param caches: names bound to ``Cache(...)`` objects in the module.
    :param maps: names bound to in-process containers (``_cache = {}``): never a cache
        that other callers or processes share.
    """
    name = dotted(node)
    if name is None:
        return False
    if name in caches:
        return True
    if name in maps or last(name) in maps:
        return False
    return "cache" in last(name).lower() and not name.startswith("request.")


def is_public_cache_control(value: str) -> bool:
    """Whether a ``Cache-Control`` value lets shared caches store the response.

    ``public`` and ``s-maxage`` say so; a positive ``max-age`` without ``private``,
    ``no-store`` or ``no-cache`` does too (RFC 9111 section 3: a shared cache may store it).
    """
    lowered = value.lower().replace(" ", "")
    if "public" in lowered or "s-maxage" in lowered:
        return True
    if any(x in lowered for x in ("private", "no-store", "no-cache")):
        return False
    match = re.search(r"max-age=(\d+)", lowered)
    return match is not None and int(match[1]) > 0


def names_credential_header(vary: str) -> bool:
    """Whether a ``Vary`` value names a credential header (or ``*``)."""
    fields = {f.strip().lower() for f in vary.split(",")}
    return "*" in fields or bool(fields & CREDENTIAL_HEADERS)
