"""Fixtures for the ASGI guard's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from .asgiapp import make_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def guarded():
    return make_app()


@pytest.fixture
def client(guarded) -> Iterator[TestClient]:
    app = guarded[0]
    with TestClient(app) as c:
        yield c
