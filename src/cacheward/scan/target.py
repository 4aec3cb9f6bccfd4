"""What to scan: endpoints from URLs, or from an OpenAPI spec on a base URL.

With ``--openapi``, every GET and HEAD operation becomes an endpoint; path parameters
are filled from ``example``, ``examples``, ``default`` or ``enum`` (in that order), and
required query parameters likewise. An operation whose path cannot be filled is skipped
with a note rather than scanned with a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import yaml

from ..errors import TargetError as TargetError

_SAFE_METHODS = ("get", "head")


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
    text = Path(path).read_text(encoding="utf-8")
    try:
        doc = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise TargetError(f"cannot parse {path}: {exc}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("paths"), Mapping):
        raise TargetError(f"{path} has no 'paths' object")
    return doc


def _value(param: Mapping[str, Any]) -> Any:
    for holder in (param, param.get("schema") or {}):
        if "example" in holder:
            return holder["example"]
        examples = holder.get("examples")
        if isinstance(examples, Mapping) and examples:
            first = next(iter(examples.values()))
            return first.get("value") if isinstance(first, Mapping) else first
        if isinstance(examples, list) and examples:
            return examples[0]
        if "default" in holder:
            return holder["default"]
        if holder.get("enum"):
            return holder["enum"][0]
    return None


def _params(item: Mapping[str, Any], op: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    merged: dict[tuple[str, str], Mapping[str, Any]] = {}
    for p in list(item.get("parameters") or []) + list(op.get("parameters") or []):
        if isinstance(p, Mapping) and "name" in p:
            merged[(str(p.get("in")), str(p["name"]))] = p
    return list(merged.values())


def from_openapi(spec: Mapping[str, Any], base: str) -> tuple[list[Endpoint], list[str]]:
    """Endpoints of ``spec`` under ``base``, and notes on operations skipped.

    :param spec: a parsed OpenAPI 3 (or Swagger 2) document.
    :param base: the API's base URL; spec paths are appended to it.
    """
    base = check_url(base).rstrip("/")
    out: list[Endpoint] = []
    notes: list[str] = []
    for raw_path, item in spec["paths"].items():
        if not isinstance(item, Mapping):
            continue
        for method in _SAFE_METHODS:
            op = item.get(method)
            if not isinstance(op, Mapping):
                continue
            path, query, missing = str(raw_path), {}, []
            for p in _params(item, op):
                value = _value(p)
                if p.get("in") == "path":
                    if value is None:
                        missing.append(str(p["name"]))
                        continue
                    path = path.replace("{" + str(p["name"]) + "}", quote(str(value), safe=""))
                elif p.get("in") == "query" and p.get("required") and value is not None:
                    query[str(p["name"])] = str(value)
            if missing or re.search(r"\{[^}]+\}", path):
                notes.append(f"skipped {method.upper()} {raw_path}: no example for {missing}")
                continue
            url = base + path + (("?" + urlencode(query)) if query else "")
            if all(e.url != url for e in out):  # a HEAD twin of a GET adds nothing
                out.append(Endpoint(url, method.upper()))
    return out, notes


def endpoints(urls: Sequence[str], spec_path: str | None) -> tuple[list[Endpoint], list[str]]:
    """The scan's endpoints: the URLs themselves, or the spec's operations under ``urls[0]``."""
    if spec_path is None:
        return from_urls(urls), []
    if len(urls) != 1:
        raise TargetError("with --openapi, give exactly one URL: the API's base")
    return from_openapi(load_spec(spec_path), urls[0])
