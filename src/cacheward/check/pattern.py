"""Source patterns that read the request or deny access, as pure functions of a node."""

from __future__ import annotations

import ast
import functools

from . import names as n
from .effect import EffectKind


def credential_source(node: ast.AST) -> tuple[EffectKind, str] | None:
    """Whether ``node`` reads a credential from the request (or ``g``)."""
    name = n.dotted(node)
    if name == "request.authorization":
        return EffectKind.CREDENTIAL, "Authorization"
    if (
        name is not None
        and name.startswith(("g.", "request.state."))
        and n.last(name) in n.G_CREDENTIAL
    ):
        return EffectKind.CREDENTIAL, name
    field, key = request_item(node)
    if key is None:
        return None
    if field == "headers" and key.lower() in n.CREDENTIAL_HEADERS:
        return EffectKind.CREDENTIAL, key
    if field == "cookies" and n.COOKIE_CREDENTIAL.match(key.replace("-", "_")):
        return EffectKind.CREDENTIAL, f"cookie:{key}"
    if field in {"args", "values"} and key.lower() in n.CREDENTIAL_NAME_HINTS:
        return EffectKind.QUERY_CREDENTIAL, key
    return None


def request_item(node: ast.AST) -> tuple[str | None, str | None]:
    """``("headers", "X-Api-Key")`` for ``request.headers.get("X-Api-Key")`` and friends."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = n.dotted(node.func.value)
        if (
            owner is not None
            and owner.startswith("request.")
            and node.func.attr
            in {
                "get",
                "getlist",
                "get_all",
                "pop",
            }
        ):
            return owner.split(".", 1)[1], n.const_str(node.args[0]) if node.args else "*"
    if isinstance(node, ast.Subscript):
        owner = n.dotted(node.value)
        if owner is not None and owner.startswith("request."):
            return owner.split(".", 1)[1], n.const_str(node.slice) or "*"
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        owner = n.dotted(node.comparators[0])
        if isinstance(node.ops[0], ast.In | ast.NotIn) and owner and owner.startswith("request."):
            return owner.split(".", 1)[1], n.const_str(node.left) or "*"
    return None, None


def request_read(node: ast.AST) -> list[tuple[EffectKind, str]] | None:
    """The request inputs ``node`` reads, when it is a read of ``request``."""
    field, key = request_item(node)
    if field is None:
        name = n.dotted(node)
        if name is None or not name.startswith("request.") or name.count(".") != 1:
            return None
        field, key = name.split(".", 1)[1], "*"
    reads: list[tuple[EffectKind, str]] = []
    if field == "headers":
        reads.append((EffectKind.HEADER, key or "*"))
    elif field == "cookies":
        reads.append((EffectKind.COOKIE, key or "*"))
    if field in n.HOST_ATTRS:
        reads.append((EffectKind.HOST, f"request.{field}"))
    if field in n.QUERY_ATTRS:
        reads.append((EffectKind.QUERY, key if key and key != "*" else f"request.{field}"))
    return reads or None


def denies(value: ast.expr) -> bool:
    """``return body, 401`` or ``return body, 403, headers``."""
    if isinstance(value, ast.Tuple) and len(value.elts) >= 2:
        return n.const_int(value.elts[1]) in n.DENY_STATUSES
    return False


def status_arg_denies(node: ast.Call) -> bool:
    """``make_response(body, 401)``, ``Response(status=403)``."""
    tail = n.last(n.dotted(node.func) or "")
    if tail not in {"make_response", "Response", "jsonify_error"}:
        return False
    args = [*node.args[1:2], *(kw.value for kw in node.keywords if kw.arg == "status")]
    return any(n.const_int(a) in n.DENY_STATUSES for a in args)


def denies_status(node: ast.AST | None) -> bool:
    """``401``, ``403``, ``status.HTTP_401_UNAUTHORIZED``, ``HTTPStatus.FORBIDDEN``."""
    if n.const_int(node) in n.DENY_STATUSES:
        return True
    name = n.last(n.dotted(node) or "") if node is not None else ""
    return name.startswith(("HTTP_401", "HTTP_403")) or name in {"UNAUTHORIZED", "FORBIDDEN"}


def raises_deny(exc: ast.expr) -> bool:
    """``raise Unauthorized()``, or any exception built with a 401/403 status
    (FastAPI's ``HTTPException(status_code=401)``, a project's ``APIError(..., 403)``)."""
    func = exc.func if isinstance(exc, ast.Call) else exc
    if n.DENY_EXCEPTIONS.search(n.dotted(func) or ""):
        return True
    if not isinstance(exc, ast.Call):
        return False
    values = [
        *exc.args,
        *(kw.value for kw in exc.keywords if kw.arg in {"status_code", "status", "code"}),
    ]
    return any(denies_status(v) for v in values)


#: Words in a redirect target that send the caller to sign in.
_LOGIN_WORDS = ("login", "log_in", "log-in", "signin", "sign_in", "sign-in")


def redirects_to_login(node: ast.Call) -> bool:
    """``redirect(url_for("auth.login"))``, ``redirect("/admin/user/login")``: a deny in
    cookie-session apps, where an anonymous caller is sent to the login page."""
    if n.last(n.dotted(node.func) or "") != "redirect" or not node.args:
        return False
    for item in ast.walk(node.args[0]):
        text = n.const_str(item)
        if text is not None and any(w in text.lower() for w in _LOGIN_WORDS):
            return True
    return False


def _reads_cache(node: ast.AST, caches: frozenset[str]) -> bool:
    for x in ast.walk(node):
        if (
            isinstance(x, ast.Call)
            and isinstance(x.func, ast.Attribute)
            and x.func.attr in n.LOOKUP_METHODS
            and n.is_cacheish(x.func.value, caches)
        ):
            return True
        if isinstance(x, ast.Subscript) and n.is_cacheish(x.value, caches):
            return True
    return False


def serves_cached(fn: ast.AST, caches: frozenset[str]) -> bool:
    """Whether ``fn`` (or a function nested in it) can return a value read from a cache:
    ``rv = cache.get(k); if rv: return rv`` or ``return jsonify(cache.get(k))``."""
    held: set[str] = set()
    for _ in range(2):  # names from a lookup, then names built from those
        for x in ast.walk(fn):
            if isinstance(x, ast.Assign | ast.AnnAssign) and x.value is not None:
                value = x.value
                if _reads_cache(value, caches) or any(
                    isinstance(v, ast.Name) and v.id in held for v in ast.walk(value)
                ):
                    targets = x.targets if isinstance(x, ast.Assign) else [x.target]
                    held.update(t.id for t in targets if isinstance(t, ast.Name))
    for x in ast.walk(fn):
        if isinstance(x, ast.Return) and x.value is not None:
            if _reads_cache(x.value, caches) or any(
                isinstance(v, ast.Name) and v.id in held for v in ast.walk(x.value)
            ):
                return True
    return False


@functools.lru_cache(maxsize=1024)
def side_effect_sites(fn: ast.AST) -> frozenset[int]:
    """Ids of nodes in ``fn`` whose value cannot reach the response: arguments of a method
    call made for its side effect (a statement of its own, on a module-level object such as
    ``logger`` or ``AnalyticsService``, not named like a check), and reads assigned to a
    name used only there.

    ``user_agent = request.headers.get("User-Agent")`` passed only to
    ``Analytics.record_view(...)`` does not vary the response; the same value passed to
    ``resp.headers.set(...)`` or ``items.append(...)`` (a local object) might, and counts.
    """
    local = _assigned(fn)
    quiet_calls: list[ast.Call] = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            call = node.value
            func = call.func
            if not isinstance(func, ast.Attribute) or n.AUTH_CALL.match(func.attr):
                continue  # a bare helper or a check may deny: its outcome is the response
            base: ast.expr = func
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id not in local and base.id != "request":
                quiet_calls.append(call)
    inside: set[int] = set()
    for call in quiet_calls:
        inside.add(id(call))
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            inside.update(id(x) for x in ast.walk(arg))
    # names whose every use is inside such a call: their assigned reads are quiet too
    uses: dict[str, list[ast.Name]] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            uses.setdefault(node.id, []).append(node)
    out = set(inside)
    for node in ast.walk(fn):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            name = node.targets[0].id
            seen = uses.get(name, [])
            if seen and all(id(u) in inside for u in seen):
                out.update(id(x) for x in ast.walk(node.value))
    return frozenset(out)


def _assigned(fn: ast.AST) -> set[str]:
    """Names bound in ``fn`` (parameters and assignment targets)."""
    names: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


@functools.lru_cache(maxsize=1024)
def error_tests(fn: ast.AST) -> frozenset[int]:
    """Ids of nodes in the test of an ``if`` that only aborts or raises:
    ``if not request.headers.get("X-Requested-With"): abort(400)`` picks an error, which a
    cache decorator never stores (``abort`` raises through it). A *caller* read in such a
    test is still an authorization check the cache skips on a hit, and is not covered."""
    out: set[int] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.If) and not node.orelse and len(node.body) == 1:
            only = node.body[0]
            raises = isinstance(only, ast.Raise) or (
                isinstance(only, ast.Expr)
                and isinstance(only.value, ast.Call)
                and n.last(n.dotted(only.value.func) or "") == "abort"
            )
            if raises:
                out.update(id(x) for x in ast.walk(node.test))
    return frozenset(out)
