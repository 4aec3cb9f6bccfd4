"""What to scan: endpoints from URLs, or from an OpenAPI spec on a base URL.

With ``--openapi``, every GET and HEAD operation becomes an endpoint, under the spec's
server path (OpenAPI 3 ``servers``, Swagger 2 ``basePath``) on the URL given. Path
parameters are filled from ``--path-param NAME=VALUE``, else the spec's ``example``,
``x-example``, ``examples``, ``default`` or ``enum`` (in that order, local ``$ref``
followed), and required query parameters likewise. An operation whose path cannot be
filled is skipped, and one note counts and names them, rather than scanned with a guess.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import yaml

from ..errors import TargetError as TargetError

_SAFE_METHODS = ("get", "head")
_METHODS = frozenset({"get", "head", "put", "post", "delete", "options", "patch", "trace"})


@dataclass(frozen=True)
class Endpoint:
    """One URL to probe (``method`` is what the spec declares: GET or HEAD)."""

    url: str
    method: str = "GET"

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


def check_url(url: str) -> str:
    """``url`` if it is absolute http(s), else :class:`TargetError`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TargetError(f"not an absolute http(s) URL: {url!r}")
    if parts.fragment:
        raise TargetError(f"URL has a fragment, which is never sent: {url!r}")
    return url


def from_urls(urls: Iterable[str]) -> list[Endpoint]:
    return [Endpoint(check_url(u)) for u in urls]


def load_spec(path: str | Path) -> Mapping[str, Any]:
    """Parse a JSON or YAML OpenAPI document (YAML is a superset, but JSON errors are clearer)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise TargetError(f"cannot read {path}: {why or exc}") from None
    try:
        doc = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise TargetError(f"cannot parse {path}: {exc}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("paths"), Mapping):
        raise TargetError(f"{path} has no 'paths' object")
    return doc


def _value(param: Mapping[str, Any], doc: Mapping[str, Any]) -> Any:
    for holder in (param, _resolve(param.get("schema") or {}, doc)):
        if "example" in holder:
            return holder["example"]
        if "x-example" in holder:  # Swagger 2's common extension
            return holder["x-example"]
        examples = holder.get("examples")
        if isinstance(examples, Mapping) and examples:
            first = _resolve(next(iter(examples.values())), doc)
            return first.get("value") if isinstance(first, Mapping) else first
        if isinstance(examples, list) and examples:
            return examples[0]
        if "default" in holder:
            return holder["default"]
        if holder.get("enum"):
            return holder["enum"][0]
    return None


def _resolve(node: Any, doc: Mapping[str, Any]) -> Any:
    """``node`` with a local ``$ref`` (``#/components/parameters/Id``) followed; a ref
    that leads nowhere resolves to ``{}`` (so the parameter has no value, and its
    operation is skipped with a note)."""
    seen = 0
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and seen < 16:
        ref, seen = str(node["$ref"]), seen + 1
        if not ref.startswith("#/"):
            return {}
        target: Any = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, Mapping) else None
        node = target if isinstance(target, Mapping) else {}
    return node


def _params(
    item: Mapping[str, Any], op: Mapping[str, Any], doc: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    merged: dict[tuple[str, str], Mapping[str, Any]] = {}
    for raw in list(item.get("parameters") or []) + list(op.get("parameters") or []):
        p = _resolve(raw, doc)
        if isinstance(p, Mapping) and "name" in p:
            merged[(str(p.get("in")), str(p["name"]))] = p
    return list(merged.values())


def _server_path(doc: Mapping[str, Any], *holders: Mapping[str, Any]) -> str:
    """The path every spec path sits under: OpenAPI 3 ``servers[0].url`` (the nearest
    of operation, path item and document; relative or absolute: only its path is used,
    with ``{variables}`` at their ``default``), or Swagger 2 ``basePath``. Requests go
    to the URL given on the command line, never to a host the spec names."""
    for holder in (*holders, doc):
        servers = holder.get("servers")
        if isinstance(servers, list) and servers and isinstance(servers[0], Mapping):
            server = servers[0]
            url = str(server.get("url") or "")
            for name, var in (server.get("variables") or {}).items():
                if isinstance(var, Mapping) and "default" in var:
                    url = url.replace("{" + str(name) + "}", str(var["default"]))
            if "://" in url or url.startswith("//"):
                url = urlsplit(url if "://" in url else "http:" + url).path
            path = posixpath.normpath("/" + url.strip("/"))  # "./v1" and "v1/" are "/v1"
            return "" if path == "/" else path
    base_path = doc.get("basePath")
    if isinstance(base_path, str) and base_path.strip("/"):
        return "/" + base_path.strip("/")
    return ""


def _join(base: str, server_path: str) -> str:
    """``base`` under ``server_path``, unless the given URL already ends with it."""
    if not server_path or urlsplit(base).path.rstrip("/").endswith(server_path):
        return base
    return base + server_path


@dataclass
class _Skipped:
    """GET and HEAD operations the spec gives no value for, and other methods seen."""

    operations: list[str]
    total: int = 0
    unsafe: int = 0

    def note(self) -> list[str]:
        if not self.operations:
            return []
        shown = "; ".join(self.operations[:20])
        more = f"; and {len(self.operations) - 20} more" if len(self.operations) > 20 else ""
        return [
            f"skipped {len(self.operations)} of {self.total} GET/HEAD operations of the"
            " spec: no example, default or enum for a path parameter (give one with"
            f" --path-param NAME=VALUE): {shown}{more}"
        ]


def _fill(
    raw_path: str,
    params: list[Mapping[str, Any]],
    given: Mapping[str, str],
    doc: Mapping[str, Any],
) -> tuple[str, dict[str, str], list[str]]:
    """The path with its parameters filled, the required query, and what is missing."""
    path, query, missing = raw_path, {}, []
    for p in params:
        name = str(p["name"])
        value = given[name] if name in given else _value(p, doc)
        if p.get("in") == "path":
            if value is None:
                missing.append(name)
                continue
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        elif p.get("in") == "query" and p.get("required") and value is not None:
            query[name] = str(value)
    for name in re.findall(r"\{([^}]+)\}", path):  # declared nowhere, or only in the path
        if name in given:
            path = path.replace("{" + name + "}", quote(given[name], safe=""))
        elif name not in missing:
            missing.append(name)
    return path, query, missing


def from_openapi(
    spec: Mapping[str, Any], base: str, path_params: Mapping[str, str] | None = None
) -> tuple[list[Endpoint], list[str]]:
    """Endpoints of ``spec`` under ``base``, and a note counting the operations skipped.

    :param spec: a parsed OpenAPI 3 (or Swagger 2) document.
    :param base: the API's URL; the spec's server path (``servers``, ``basePath``) and
        paths are appended to it, and no request goes to any other host.
    :param path_params: values for path (and required query) parameters by name
        (``--path-param``); they win over the spec's examples.
    """
    base = check_url(base).rstrip("/")
    given = dict(path_params or {})
    out: list[Endpoint] = []
    skipped = _Skipped([])
    for raw_path, item in spec["paths"].items():
        if not isinstance(item, Mapping):
            continue
        skipped.unsafe += sum(1 for m in item if m not in _SAFE_METHODS and m in _METHODS)
        for method in _SAFE_METHODS:
            op = item.get(method)
            if not isinstance(op, Mapping):
                continue
            skipped.total += 1
            path, query, missing = _fill(str(raw_path), _params(item, op, spec), given, spec)
            if missing:
                skipped.operations.append(f"{method.upper()} {raw_path} ({', '.join(missing)})")
                continue
            root = _join(base, _server_path(spec, op, item))
            url = root + path + (("?" + urlencode(query)) if query else "")
            if all(e.url != url for e in out):  # a HEAD twin of a GET adds nothing
                out.append(Endpoint(url, method.upper()))
    return out, skipped.note()


def endpoints(
    urls: Sequence[str], spec_path: str | None, path_params: Mapping[str, str] | None = None
) -> tuple[list[Endpoint], list[str]]:
    """The scan's endpoints: the URLs themselves, or the spec's operations under
    ``urls[0]``; and notes on what the spec holds but will not be scanned."""
    if spec_path is None:
        if path_params:
            raise TargetError("--path-param needs --openapi")
        return from_urls(urls), []
    if len(urls) != 1:
        raise TargetError("with --openapi, give exactly one URL: the API's base")
    return from_openapi(load_spec(spec_path), urls[0], path_params)


def parse_path_params(items: Iterable[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings (``--path-param``) to a mapping."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise TargetError(f"--path-param {item!r} is not NAME=VALUE")
        out[name.strip()] = value
    return out
