"""Flask-Smorest ``MethodView``\\ s behind the guard (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, Flask
from flask.views import MethodView
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint

from .resource_suite import *  # noqa: F403 - the shared checks
from .resource_suite import Adapter

CONFIG = {"API_TITLE": "t", "API_VERSION": "1", "OPENAPI_VERSION": "3.0.3"}


def register(app: Flask, api: Any, path: str, cls: type, bp: Blueprint | None) -> Any:
    api = api or app.extensions.get("smorest_api") or Api(app)
    app.extensions["smorest_api"] = api
    name = "closed" if bp is not None else cls.__name__.lower()
    prefix = bp.url_prefix if bp is not None else None
    blp = SmorestBlueprint(name, __name__, url_prefix=prefix)
    if bp is not None:
        for hook in bp.before_request_funcs.get(None, []):
            blp.before_request(hook)
    blp.route(path)(cls)
    api.register_blueprint(blp)
    return api


@pytest.fixture
def adapter() -> Adapter:
    return Adapter(MethodView, register, dict(CONFIG))
