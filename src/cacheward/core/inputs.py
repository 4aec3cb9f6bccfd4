"""Request inputs a response may read, and whether a cache key covers them.

A read is a pair ``(kind, name)``. The guard records the reads a view makes on a miss and
stores the response only when :func:`unkeyed_reads` finds none (invariant 3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from .policy import KeyPolicy, Scope

#: Pseudo header name that keys the client address: ``vary=[":remote-addr"]``.
REMOTE_ADDR_VARY = ":remote-addr"
#: Pseudo header names that key the key's grants and the key's id.
SCOPES_VARY = ":scopes"
KEY_ID_VARY = ":key-id"


class Kind(Enum):
    """What kind of input was read."""

    HEADER = "header"  # name: lower-case header name, or "*" for all of them
    COOKIE = "cookie"  # name: cookie name, or "*"
    QUERY = "query"  # name: parameter name
    QUERY_ALL = "query*"  # the whole query string (iteration, url, full_path)
    BODY = "body"
    HOST = "host"
    REMOTE_ADDR = "remote-addr"
    PRINCIPAL = "principal"
    TENANT = "tenant"
    CREDENTIAL = "credential"
    METHOD = "method"  # keyed: only GET responses are ever stored
    GRANTS = "grants"  # the key's scopes: keyed with vary=[":scopes"]
    KEY_ID = "key-id"  # which key of the principal: keyed with vary=[":key-id"]
    PRINCIPAL_ALL = "principal*"  # the whole principal (repr, ==, hash, fields at once)
    UNKNOWN = "unknown"  # anything the guard cannot name: never keyed (fail closed)


Read = tuple[Kind, str]


@dataclass(frozen=True)
class KeyCoverage:
    """What one request's key covered, beyond its policy.

    :param dropped_params: query parameters present in the request but left out of the key.
    :param host_keyed: whether the request's Host is in the key (no fixed ``CACHEWARD_HOST``).
    """

    dropped_params: frozenset[str] = frozenset()
    host_keyed: bool = True


def is_keyed(read: Read, policy: KeyPolicy, coverage: KeyCoverage) -> bool:
    """Whether the key built under ``policy`` covers ``read``."""
    kind, name = read
    if kind is Kind.HEADER:
        if name == "host" and coverage.host_keyed:
            return True
        return name != "*" and policy.keys_header(name)
    if kind is Kind.COOKIE:
        return policy.keys_header("cookie")
    if kind is Kind.QUERY:
        # A parameter the request did not send reads as absent, which is what the
        # entry is keyed under; one it sent but the key dropped is unkeyed.
        return name not in coverage.dropped_params
    if kind is Kind.QUERY_ALL:
        return not coverage.dropped_params
    if kind is Kind.HOST:
        return coverage.host_keyed or policy.keys_header("host")
    if kind is Kind.REMOTE_ADDR:
        return policy.keys_header(REMOTE_ADDR_VARY)
    if kind is Kind.PRINCIPAL:
        return policy.scope is Scope.PRINCIPAL
    if kind is Kind.CREDENTIAL:
        # One principal may hold several keys (rotation, one per service): what the raw
        # credential decided is each key's own, so the entry must be keyed by the key.
        return policy.scope is Scope.PRINCIPAL and policy.keys_header(KEY_ID_VARY)
    if kind is Kind.TENANT:
        # Principal-scoped keys carry the tenant too (one principal's keys may differ).
        return policy.scope is not Scope.SHARED
    if kind is Kind.METHOD:
        return True
    if kind is Kind.GRANTS:
        return policy.keys_header(SCOPES_VARY)
    if kind is Kind.KEY_ID:
        return policy.keys_header(KEY_ID_VARY)
    if kind is Kind.PRINCIPAL_ALL:
        return (
            policy.scope is Scope.PRINCIPAL
            and policy.keys_header(SCOPES_VARY)
            and policy.keys_header(KEY_ID_VARY)
        )
    return False  # BODY, UNKNOWN: a cached GET never keys its body; the unknown never


def unkeyed_reads(reads: Iterable[Read], policy: KeyPolicy, coverage: KeyCoverage) -> list[Read]:
    """The reads the key does not cover, in a stable order."""
    out = [r for r in reads if not is_keyed(r, policy, coverage)]
    return sorted(out, key=lambda r: (r[0].value, r[1]))


def describe(read: Read) -> str:
    """A read as a person says it: ``header X-Forwarded-Host``."""
    kind, name = read
    if kind is Kind.HEADER:
        return "every header" if name == "*" else f"header {_title(name)}"
    if kind is Kind.COOKIE:
        return "every cookie" if name == "*" else f"cookie {name!r}"
    if kind is Kind.QUERY:
        return f"query parameter {name!r}"
    if kind is Kind.UNKNOWN:
        return f"{name}, an input the guard cannot key"
    return {
        Kind.QUERY_ALL: "the whole query string",
        Kind.BODY: "the request body",
        Kind.HOST: "the Host",
        Kind.REMOTE_ADDR: "the client address",
        Kind.PRINCIPAL: "the principal",
        Kind.TENANT: "the tenant",
        Kind.CREDENTIAL: "the credential",
        Kind.METHOD: "the method",
        Kind.GRANTS: "the key's scopes",
        Kind.KEY_ID: "the key's id",
        Kind.PRINCIPAL_ALL: "the whole principal (its repr, equality or hash)",
    }[kind]


def fix_for(read: Read, policy: KeyPolicy) -> str:
    """How to make ``read`` safe, said as a developer would act on it."""
    kind, name = read
    if kind is Kind.HEADER:
        if name == "*":
            return "read headers by name, and add each to vary=[...]"
        return f"add vary=[{_title(name)!r}] or stop reading it"
    if kind is Kind.COOKIE:
        return "add vary=['Cookie'] or stop reading it"
    if kind in (Kind.QUERY, Kind.QUERY_ALL):
        return (
            "stop reading parameters the key drops (tracking parameters such as utm_*),"
            " or keep them in the key with @ward.cached(ignore_params=())"
        )
    if kind is Kind.BODY:
        return "a cached GET must not depend on its body; stop reading it"
    if kind is Kind.HOST:
        return "add vary=['Host'] or stop reading it"
    if kind is Kind.REMOTE_ADDR:
        return f"add vary=[{REMOTE_ADDR_VARY!r}] or stop reading it"
    if kind is Kind.GRANTS:
        return f"add vary=[{SCOPES_VARY!r}] or stop reading current_principal.scopes"
    if kind is Kind.KEY_ID:
        return f"add vary=[{KEY_ID_VARY!r}] or stop reading current_principal.key_id"
    if kind is Kind.CREDENTIAL and policy.scope is Scope.PRINCIPAL:
        return f"add vary=[{KEY_ID_VARY!r}] (an entry per key) or stop reading the credential"
    if kind is Kind.PRINCIPAL_ALL:
        return "read the fields you need (current_principal.id, .tenant) one by one"
    if kind is Kind.UNKNOWN:
        return "stop reading it in a cached view (the guard cannot put it in the key)"
    wanted = "'tenant'" if kind is Kind.TENANT else "'principal'"
    return f"use scope={wanted} (this route is scope={policy.scope.value!r}) or stop reading it"


def _title(name: str) -> str:
    return "-".join(p.capitalize() for p in name.split("-"))
