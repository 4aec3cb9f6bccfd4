"""The oracle is not vacuous: it counts a leak, a bad key's 200 and a revoked key's 200."""

from __future__ import annotations

import json
import time

from tests.reliability.oracle import Caller, Figures

ALICE = Caller("alice", None, "k1", "id1")
BOB = Caller("bob", "acme", "k2", "id2")


def ok(**body: object) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Cache-Status": "cacheward; hit"}, json.dumps(body).encode()


def test_a_body_made_for_someone_else_is_a_leak() -> None:
    f = Figures()
    f.check(ALICE, "/me", 0.0, ok(principal="alice", path="/me"))
    f.check(ALICE, "/me", 0.0, ok(principal="bob", path="/me"))
    f.check(ALICE, "/items/1?q=2", 0.0, ok(principal="alice", item="1", q=None))
    f.check(BOB, "/tenant", 0.0, ok(tenant="other", principal=None))
    f.check(BOB, "/shared", 0.0, ok(shared=True, principal="bob"))
    f.check(BOB, "/tenant", 0.0, ok(tenant="acme", principal=None))
    assert f.leaks == 4 and f.hits == 6


def test_bad_and_revoked_keys_must_not_get_200() -> None:
    f = Figures()
    f.check(Caller("bad", None, "x", None, bad=True), "/me", 0.0, ok(principal="bad", path="/me"))
    revoked = Caller("carol", None, "k3", "id3", revoked_at=time.monotonic())
    f.check(revoked, "/me", revoked.revoked_at - 1, ok(principal="carol", path="/me"))  # type: ignore[operator]
    f.check(revoked, "/me", revoked.revoked_at + 1, ok(principal="carol", path="/me"))  # type: ignore[operator]
    f.check(revoked, "/me", revoked.revoked_at + 1, (401, {}, b"{}"))  # type: ignore[operator]
    assert f.bad_200 == 1 and f.revoked_200 == 1 and f.statuses[401] == 1
