"""Telling code apart by the package it was defined in (not by its file's path).

Used to name another library's auth decorator found where ``@ward.cached`` expects the
view (``UnsafeCacheOrder``), with that library's fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def package_of(func: Any) -> str | None:
    """The top-level package of the module ``func`` was defined in.

    ``functools.wraps`` copies ``__module__`` from the wrapped function, so the module is
    read from the function's globals: where its code really lives.
    """
    glob = getattr(func, "__globals__", None)
    name = glob.get("__name__") if isinstance(glob, dict) else None
    if not isinstance(name, str) or not name:
        return None
    return name.partition(".")[0]


#: Auth decorators of other libraries that must sit above ``@ward.cached``: the package,
#: the decorator's public name, and how to combine it with the guard.
FOREIGN_AUTH: dict[str, tuple[str, str]] = {
    "flask_login": (
        "flask_login.login_required",
        "put @login_required above @ward.cached(..., principal=lambda:"
        " current_user.get_id() if current_user.is_authenticated else None)",
    ),
    "flask_jwt_extended": (
        "flask_jwt_extended.jwt_required",
        "put @jwt_required() above @ward.cached(..., principal=get_jwt_identity)",
    ),
    "flask_httpauth": (
        "flask_httpauth.HTTPAuth.login_required",
        "put @auth.login_required above @ward.cached(..., principal=auth.current_user)",
    ),
}


def foreign_auth(view: Callable[..., Any]) -> tuple[str, str] | None:
    """The decorator name and the fix when ``view`` is the wrapper of another library's
    auth decorator (recognised by the package its code lives in), else ``None``."""
    package = package_of(view)
    found = FOREIGN_AUTH.get(package or "")
    if found is None:
        return None
    name, fix = found
    code = getattr(view, "__code__", None)
    qualname = getattr(code, "co_qualname", None)  # Python >= 3.11
    if isinstance(qualname, str) and "<locals>" in qualname:
        outer = qualname.split(".<locals>", 1)[0]
        if outer:
            name = f"{package}.{outer}"
    return name, fix
