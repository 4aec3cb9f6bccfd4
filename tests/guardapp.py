"""Building guarded test apps."""

from __future__ import annotations

from flask import Flask

from cacheward import Cacheward
from cacheward.keys import MemoryKeyStore

SECRET = "test-secret-0123456789abcdef"


def make_app(**config: object) -> tuple[Flask, Cacheward, MemoryKeyStore]:
    app = Flask("guarded")
    app.config.update(TESTING=True, CACHEWARD_SECRET=SECRET, **config)
    store = MemoryKeyStore()
    ward = Cacheward(app, keys=store)
    return app, ward, store
