"""What the held-out corpus (``benchmarks/scan_corpus.json``) showed, on our own reduced
twins (:mod:`tests.targets.heldout`)."""

from __future__ import annotations

import asyncio
import random

import httpx
from tests.targets import heldout
from tests.targets.harness import AsyncWSGITransport, creds, endpoints

from cacheward.scan import Settings, scan_async
from cacheward.scan.context import BusterState, ProbeContext
from cacheward.scan.credential import ANONYMOUS
from cacheward.scan.exchange import ProbeResponse, drive_sync
from cacheward.scan.probes import deception_path, key_in_url
from cacheward.scan.target import Endpoint

BASE = "http://target.test"


def _scan(app: object, paths: list[str], keyed: bool = True) -> object:
    return asyncio.run(
        scan_async(
            endpoints(BASE, paths),
            creds() if keyed else [],
            Settings(rate=0, concurrency=8),
            transport=AsyncWSGITransport(app),
        )
    )


def _page(number: int) -> ProbeResponse:
    return ProbeResponse(200, {"content-type": "text/html"}, heldout.random_page(number).encode())


def test_deception_path_does_not_call_a_cached_random_page_the_victims() -> None:
    """The PHP lab behind Varnish: the victim's baseline printed a ten-digit random
    number (read as a timestamp), the anonymous one a nine-digit number; a variant the
    cache then stored came back to the reader byte for byte. Nothing of it is private."""
    ctx = ProbeContext(Endpoint(f"{BASE}/h/random"), [ANONYMOUS], buster=BusterState.WORKS)
    ctx.baselines = {ANONYMOUS.name: _page(1_804_289_383), None: _page(846_930_886)}
    transport = httpx.WSGITransport(app=heldout.create_app())  # type: ignore[arg-type]
    with httpx.Client(transport=transport) as client:
        assert drive_sync(deception_path.probe(ctx), client) == []


def test_key_in_url_is_not_a_public_random_page_answering_200() -> None:
    """A public page says 200 to a key in the query as to anything else; that its random
    number read as a timestamp this time, and not in the anonymous baseline, is noise."""
    _, _, eve = creds()
    ctx = ProbeContext(Endpoint(f"{BASE}/h/random"), creds(), buster=BusterState.WORKS)
    ctx.baselines = {eve.name: _page(1_714_636_915), None: _page(424_238_335)}
    app = heldout.create_app(rand=lambda: random.randint(10**9, 2**31 - 1))  # noqa: S311
    with httpx.Client(transport=httpx.WSGITransport(app=app)) as client:  # type: ignore[arg-type]
        assert drive_sync(key_in_url.probe(ctx), client) == []


def test_random_page_behind_a_static_cache_is_no_finding_keyed_or_public() -> None:
    for keyed in (True, False):
        report = _scan(heldout.create_app(), list(heldout.TRAPS), keyed=keyed)
        assert report.findings == (), (keyed, report.findings)  # type: ignore[attr-defined]


def test_account_deception_is_still_found_and_its_fixed_twin_is_clean() -> None:
    report = _scan(heldout.create_app(), list(heldout.ROUTES))
    found = {f.id for f in report.findings}  # type: ignore[attr-defined]
    assert found & set(heldout.ROUTES["/h/account"]), found
    fixed = _scan(heldout.create_fixed_app(), [*heldout.ROUTES, *heldout.TRAPS])
    assert fixed.findings == ()  # type: ignore[attr-defined]


def test_deception_path_still_reports_the_private_account_page() -> None:
    """The probe alone, where a path confusion is the only way in: the victim's values
    (its e-mail, its IBAN) reach the reader through the stored variant."""
    app = heldout.create_app()
    transport = httpx.WSGITransport(app=app)  # type: ignore[arg-type]
    alice, bob, _ = creds()
    ctx = ProbeContext(Endpoint(f"{BASE}/h/account"), [alice, bob], buster=BusterState.WORKS)
    with httpx.Client(transport=transport) as client:
        for cred in (alice, bob, None):
            headers = {"X-API-Key": cred.key} if cred else {}
            got = client.get(ctx.url(), headers=headers)
            ctx.baselines[cred.name if cred else None] = ProbeResponse.from_httpx(got)
        found = drive_sync(deception_path.probe(ctx), client)
    assert [f.id for f in found] == ["cache-deception-path"]
    assert found[0].evidence["served_to"] == "no key"
    assert found[0].evidence["values_leaked"] >= 1
