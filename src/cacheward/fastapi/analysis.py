"""What a FastAPI endpoint reads before it runs: its declared parameters.

FastAPI resolves ``Header()``, ``Query()``, ``Cookie()``, body and dependency parameters
from the request *before* calling the endpoint, so the guard cannot watch those reads
happen; it reads them off the route's dependency tree instead (``APIRoute.dependant``,
which FastAPI built from the signature):

- a ``Query()`` parameter is a query read (the query is in the key);
- a ``Header()`` parameter is keyed **automatically** (added to the route's ``vary``),
  a credential header is a read of the credential, a header model reads every header;
- a ``Cookie()`` parameter keys the ``Cookie`` header automatically;
- a body parameter, and a ``WebSocket``/``HTTPConnection`` parameter, are never keyed;
- a dependency that takes the raw ``Request`` can read anything: unknown (not stored);
- a dependency that depends on the guard's principal derives from all of it (only a
  principal route varying on ``:scopes`` and ``:key-id`` keys that).

The guard's own ``protected`` dependency is authentication: what it reads is not an
input of the response. A kind of parameter this module does not know (a FastAPI release
that adds one: any other ``*_params`` or ``*_param_name`` of a ``Dependant``) is an
unknown read, so the route is unstorable until it is mapped here (fail closed).
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..core.inputs import Kind, Read

#: Attribute set on the dependency returned by ``ward.protected``.
PROTECTOR_MARK = "__cacheward_protector__"


def is_protector(call: Any) -> bool:
    while isinstance(call, partial):
        call = call.func
    return bool(getattr(call, PROTECTOR_MARK, False))


@dataclass
class Declared:
    """The reads and the automatic ``vary`` names of one route's parameters."""

    reads: set[Read] = field(default_factory=set)
    vary: set[str] = field(default_factory=set)
    protected: bool = False


def _alias(param: Any, header: bool) -> str:
    alias = str(getattr(param, "alias", None) or getattr(param, "name", ""))
    info = getattr(param, "field_info", None)
    if header and alias == getattr(param, "name", None):
        if getattr(info, "convert_underscores", True):
            alias = alias.replace("_", "-")
    return str(alias)


def _is_model(param: Any) -> bool:
    info = getattr(param, "field_info", None)
    annotation = getattr(info, "annotation", None)
    try:
        from pydantic import BaseModel

        return inspect.isclass(annotation) and issubclass(annotation, BaseModel)
    except Exception:  # noqa: BLE001 - an exotic annotation: treat as a model (fail closed)
        return True


def analyze(dependant: Any, credential_headers: frozenset[str], injected: str) -> Declared:
    """The declared reads of an endpoint's dependency tree.

    :param credential_headers: lower-case names of the headers that carry the credential.
    :param injected: the name of the request parameter the guard itself adds.
    """
    out = Declared()
    _walk(dependant, credential_headers, out, top=True, injected=injected)
    return out


#: The parameter kinds of a ``Dependant`` that :func:`_walk` maps (or knows are not
#: inputs: the response, background tasks, security scopes).
_KNOWN_PARAMS = frozenset(
    {
        "path_params",
        "query_params",
        "header_params",
        "cookie_params",
        "body_params",
        "request_param_name",
        "websocket_param_name",
        "http_connection_param_name",
        "response_param_name",
        "background_tasks_param_name",
        "security_scopes_param_name",
    }
)


def _unknown_kinds(d: Any) -> list[str]:
    """The parameter kinds ``d`` uses that this module does not map."""
    if dataclasses.is_dataclass(d):
        names = [f.name for f in dataclasses.fields(d)]
    else:
        try:
            names = list(vars(d))
        except TypeError:  # no __dict__: nothing can be listed, so nothing is known
            return ["a dependency whose parameters cannot be listed"]
    return sorted(
        name
        for name in names
        if (name.endswith("_params") or name.endswith("_param_name"))
        and name not in _KNOWN_PARAMS
        and getattr(d, name, None)
    )


def _walk(d: Any, creds: frozenset[str], out: Declared, top: bool, injected: str) -> bool:
    """Add ``d``'s reads to ``out``; true when ``d`` depends on the guard's principal."""
    for kind in _unknown_kinds(d):
        out.reads.add((Kind.UNKNOWN, f"a FastAPI parameter kind the guard does not map ({kind})"))
    for p in getattr(d, "query_params", ()):
        if _is_model(p):
            out.reads.add((Kind.QUERY_ALL, ""))
        else:
            out.reads.add((Kind.QUERY, _alias(p, False)))
    for p in getattr(d, "header_params", ()):
        if _is_model(p):
            out.reads.add((Kind.HEADER, "*"))
            continue
        name = _alias(p, True).lower()
        if name in creds or name == "authorization":
            out.reads.add((Kind.CREDENTIAL, ""))
        elif name == "cookie":
            out.vary.add("cookie")
        elif name == "host":
            out.reads.add((Kind.HOST, ""))
        else:
            out.vary.add(name)
    if getattr(d, "cookie_params", ()):
        out.vary.add("cookie")
    if getattr(d, "body_params", ()):
        out.reads.add((Kind.BODY, ""))
    for attr in ("websocket_param_name", "http_connection_param_name"):
        if getattr(d, attr, None):
            out.reads.add((Kind.UNKNOWN, f"a {attr.split('_')[0]} parameter"))
    request_param = getattr(d, "request_param_name", None)
    if request_param and not top:
        name = getattr(getattr(d, "call", None), "__qualname__", "a dependency")
        out.reads.add((Kind.UNKNOWN, f"the Request, read by the dependency {name}"))
    # The endpoint's own Request parameter is replaced by a TrackedRequest at run time.
    uses_principal = False
    for sub in getattr(d, "dependencies", ()):
        if is_protector(getattr(sub, "call", None)):
            if top:
                out.protected = True
            uses_principal = True
            continue
        if _walk(sub, creds, out, top=False, injected=injected):
            out.reads.add((Kind.PRINCIPAL_ALL, ""))
            uses_principal = True
    return uses_principal
