"""flask-restful ``Resource`` classes behind the guard (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, Flask
from flask_restful import Api, Resource

from .resource_suite import *  # noqa: F403 - the shared checks
from .resource_suite import Adapter


def register(app: Flask, api: Any, path: str, cls: type, bp: Blueprint | None) -> Any:
    if bp is not None:
        Api(bp).add_resource(cls, path)
        app.register_blueprint(bp)
        return None
    api = api or Api(app)
    api.add_resource(cls, path)
    return api


@pytest.fixture
def adapter() -> Adapter:
    return Adapter(Resource, register, vary=("Accept",))
