"""The proxy suite's example API on FastAPI, for uvicorn and gunicorn's uvicorn workers.

The same routes and bodies as ``tests/proxy/apps/guarded.py`` (every body names who it
was made for), so the proxy suite's leak oracle checks it unchanged. Configured by
``CW_KEYS_FILE`` (an SQLite key store shared by the workers and the test, verified in a
worker thread) and ``CW_DOWNSTREAM``.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Security
from fastapi.responses import PlainTextResponse
from starlette.responses import JSONResponse, Response

from cacheward.fastapi import Cacheward, Principal
from cacheward.keys import SQLiteKeyStore

SECRET = "proxy-suite-secret-0123456789abcdef"
STATIC_JS = "console.log('public asset, the same for everyone');\n"


def create_app() -> FastAPI:
    app = FastAPI()
    ward = Cacheward(
        app,
        keys=SQLiteKeyStore(os.environ["CW_KEYS_FILE"]),
        secret=SECRET,
        downstream=os.environ.get("CW_DOWNSTREAM", "private"),
    )
    read = ward.protected("read")

    def owner(p: Principal, account_id: str) -> bool:
        return p.id == account_id

    @app.get("/me")
    @ward.cached(ttl=30)
    async def me(p: Principal = Security(read)):  # noqa: B008
        return {"principal": p.id}

    @app.get("/accounts/{account_id}")
    @ward.cached(ttl=30)
    async def account(
        account_id: str,
        p: Principal = Security(ward.protected("read", authorize=owner)),  # noqa: B008
    ):
        return {"account": account_id}

    @app.get("/me/settings.js")
    @ward.cached(ttl=30)
    async def settings(p: Principal = Security(read)):  # noqa: B008
        return JSONResponse({"principal": p.id}, media_type="text/javascript")

    @app.get("/tenant")
    @ward.cached(ttl=30, scope="tenant")
    async def tenant(p: Principal = Security(read)):  # noqa: B008
        return {"tenant": p.tenant}

    @app.get("/catalog")
    @ward.cached(ttl=30, scope="shared")
    async def catalog(p: Principal = Security(ward.protected())):  # noqa: B008
        return {"catalog": ["a", "b", "c"]}

    @app.get("/static/app.js")
    async def asset() -> Response:
        return PlainTextResponse(
            STATIC_JS,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=60"},
        )

    return app
