"""Cache keys: every input a response may depend on, hashed, with no credential in it."""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from .facts import RequestFacts
from .policy import KeyPolicy, Scope
from .principal import Principal
from .query import Pairs, canonical_query
from .secret import Purpose, Secrets

SHARED_SCOPE = "shared"
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


class CacheKey(NamedTuple):
    """A stored response's address.

    :param digest: what a backend stores the entry under (hex BLAKE2b of the parts).
    :param scope: the scope token (``principal:<hmac>``, ``tenant:<hmac>`` or
        ``shared``), which is also what a purge by principal or tenant bumps.
    :param parts: the canonical pieces, for debugging; they hold no credential.
    """

    digest: str
    scope: str
    parts: tuple[tuple[str, str], ...]


def scope_token(scope: Scope, principal: Principal, secrets: Secrets) -> str:
    """The scope part of a key: a keyed hash of the principal or tenant id, never a key.

    A ``TENANT`` route for a principal with no tenant falls back to the principal scope:
    sharing less is always safe.
    """
    if scope is Scope.SHARED:
        return SHARED_SCOPE
    if scope is Scope.TENANT and principal.tenant is not None:
        return tenant_scope(principal.tenant, secrets)
    return principal_scope(principal.id, secrets)


def principal_scope(principal_id: str, secrets: Secrets) -> str:
    """The scope token of one principal (what ``purge(principal=...)`` bumps)."""
    return "principal:" + secrets.keyed_hash(Purpose.SCOPE, "principal\0" + principal_id)


def tenant_scope(tenant: str, secrets: Secrets) -> str:
    """The scope token of one tenant."""
    return "tenant:" + secrets.keyed_hash(Purpose.SCOPE, "tenant\0" + tenant)


def canonical_host(scheme: str, host: str) -> str:
    """The host as the application reads it: the scheme's default port removed, and
    otherwise exactly as sent (a view reading ``Example.COM`` must not share the entry
    of ``example.com``)."""
    default = _DEFAULT_PORTS.get(scheme)
    if default is not None and host.endswith(default):
        host = host[: -len(default)]
    return host


def build_cache_key(
    facts: RequestFacts,
    pairs: Pairs,
    policy: KeyPolicy,
    scope: str,
    namespace: str = "cw",
    reject_duplicates: bool = True,
) -> tuple[CacheKey, frozenset[str]]:
    """Build the key for ``facts`` and return it with the query names it left out.

    ``HEAD`` is keyed as ``GET`` so that it is answered from the ``GET`` entry (a
    ``HEAD`` miss stores nothing).
    ``reject_duplicates`` refuses a repeated query parameter (the guard passes the app's
    ``CACHEWARD_REJECT_DUPLICATE_PARAMS``, its one home).

    :raises MalformedQuery: when the query cannot be keyed safely.
    """
    method = "GET" if facts.method == "HEAD" else facts.method
    query, dropped = canonical_query(
        pairs,
        policy.keeps_param,
        reject_duplicates=reject_duplicates,
    )
    parts: list[tuple[str, str]] = [
        ("ns", namespace),
        ("method", method),
        ("scheme", facts.scheme),
        ("host", canonical_host(facts.scheme, facts.host)),
        ("prefix", facts.prefix),
        ("path", facts.path),
        ("query", query),
        ("route", facts.route),
        *facts.principal,
    ]
    for name in policy.vary:
        if name.startswith(":"):
            if name != ":remote-addr":
                continue  # principal pseudo-headers travel in facts.principal
            value: str | None = facts.remote_addr
        else:
            value = facts.headers.get(name)
        # Keyed exactly as the view reads it (servers already trim the spaces HTTP allows
        # around a value; stripping more, such as NBSP, let "fr\xa0" share "fr"'s
        # entry). An absent header and an empty one are different inputs.
        parts.append(("h:" + name, "\0absent" if value is None else value))
    parts.append(("scope", scope))
    # Each value is length-prefixed, so the encoding is injective whatever it holds.
    text = "\n".join([f"{name}={len(value)}:{value}" for name, value in parts])
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()
    return CacheKey(digest, scope, tuple(parts)), dropped
