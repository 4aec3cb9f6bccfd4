"""Helpers for driving the targets from tests: an async in-process transport, keys, URLs."""

from __future__ import annotations

import httpx

from cacheward.scan import Credential, Endpoint

from . import classes, vulnerable
from .kit import ALICE, BOB, EVE


class AsyncWSGITransport(httpx.AsyncBaseTransport):
    """Runs a WSGI app in-process for an async client (httpx's WSGITransport is sync)."""

    def __init__(self, app: object) -> None:
        self._sync = httpx.WSGITransport(app=app)  # type: ignore[arg-type]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = await request.aread()
        sync_req = httpx.Request(
            request.method, request.url, headers=request.headers, content=content
        )
        resp = self._sync.handle_request(sync_req)
        # A stream, not ``content=``: httpx then reads and closes it, and times it
        # (``Response.elapsed``, which the ``hidden-cache`` probe reads).
        body = httpx.ByteStream(resp.read())
        return httpx.Response(resp.status_code, headers=resp.headers, stream=body)


def creds() -> list[Credential]:
    return [
        Credential("alice", ALICE),
        Credential("bob", BOB),
        Credential("eve", EVE, low=True),
    ]


def endpoints(base: str, paths: list[str]) -> list[Endpoint]:
    return [Endpoint(base + p) for p in paths]


#: Every route an in-process scan reaches (the raw-only routes need a socket).
ALL_PATHS = [*vulnerable.ROUTES, *vulnerable.PATH_KEYED, *classes.ROUTES, *classes.TRAPS]
#: Every route a scan over a socket reaches.
SOCKET_PATHS = [*ALL_PATHS, *classes.RAW_ROUTES]
#: Every planted route with the ids it may show (the classes' extras included).
PLANTED: dict[str, tuple[str, ...]] = {
    **{r: (*ids, *classes.ALSO.get(r, ())) for r, ids in vulnerable.ROUTES.items()},
    **classes.ROUTES,
}
SOCKET_PLANTED = {**PLANTED, **classes.RAW_ROUTES}
#: Check ids that only a raw request finds, so never through the in-process transport.
RAW_IDS = frozenset(ids[0] for ids in classes.RAW_ROUTES.values())
