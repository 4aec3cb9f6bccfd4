"""Who calls the example API in the proxy suite, and what each caller may receive."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from cacheward.keys import SQLiteKeyStore

PRINCIPALS = 20
TENANTS = 4


class Via(Enum):
    """How a caller sends its key."""

    X_API_KEY = "X-API-Key"
    BEARER = "Authorization: Bearer"
    NONE = "no key"


@dataclass(frozen=True)
class Caller:
    """One client: a principal's key (or none), how it is sent, and whether it is revoked
    by the time the caller uses it."""

    name: str
    principal: str | None
    tenant: str | None
    via: Via
    key: str | None = field(default=None, repr=False)
    key_id: str | None = None

    def headers(self) -> dict[str, str]:
        if self.key is None or self.via is Via.NONE:
            return {}
        if self.via is Via.X_API_KEY:
            return {"X-API-Key": self.key}
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Keyring:
    """The key file and the callers holding its keys."""

    path: Path
    store: SQLiteKeyStore
    valid: list[Caller]
    revocable: list[Caller]

    @property
    def anonymous(self) -> Caller:
        return Caller("anonymous", None, None, Via.NONE)

    def reissue_revocable(self) -> None:
        """Give the revocable callers new, live keys."""
        fresh = []
        for caller in self.revocable:
            assert caller.principal is not None
            issued = self.store.create(caller.principal, ["read"], tenant=caller.tenant)
            fresh.append(replace(caller, key=issued.plaintext, key_id=issued.id))
        self.revocable = fresh

    def revoke_all(self) -> None:
        for caller in self.revocable:
            assert caller.key_id is not None
            self.store.revoke(caller.key_id)


def issue_keys(path: Path) -> Keyring:
    store = SQLiteKeyStore(path)
    valid: list[Caller] = []
    for i in range(PRINCIPALS):
        principal, tenant = f"p{i:02d}", f"t{i % TENANTS}"
        via = Via.X_API_KEY if i % 2 == 0 else Via.BEARER
        issued = store.create(principal, ["read"], tenant=tenant)
        valid.append(Caller(principal, principal, tenant, via, issued.plaintext, issued.id))
    revocable = []
    for i in range(3):
        principal, tenant = f"r{i}", f"t{i % TENANTS}"
        via = Via.X_API_KEY if i % 2 == 0 else Via.BEARER
        issued = store.create(principal, ["read"], tenant=tenant)
        name = f"{principal}-revoked"
        revocable.append(Caller(name, principal, tenant, via, issued.plaintext, issued.id))
    return Keyring(path, store, valid, revocable)
