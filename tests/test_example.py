"""The README's example API works as the README says."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest
from flask import Flask

EXAMPLE = pathlib.Path(__file__).parents[1] / "examples" / "accounts_api.py"


def load():
    """Import the example as ``flask --app`` would (its key store is made at import)."""
    spec = importlib.util.spec_from_file_location("accounts_api_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _instance_in_tmp(tmp_path, monkeypatch):
    """The example keeps its key store in the app's instance folder: point that at a
    temporary directory, so that the test never writes ``instance/keys.db`` into the
    checkout."""
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(tmp_path))


def test_example_api_guards_and_caches(capsys, tmp_path):
    module = load()
    assert (tmp_path / "keys.db").exists()
    out = capsys.readouterr().out
    keys = dict(
        line.strip().split(": ", 1)
        for line in out.splitlines()
        if line.startswith("  alice") or line.startswith("  bob")
    )
    keys = {k.strip(): v.strip() for k, v in keys.items()}
    c = module.app.test_client()
    a = c.get("/accounts/alice", headers={"X-API-Key": keys["alice"]})
    assert a.status_code == 200 and a.get_json()["owner"] == "alice"
    assert c.get("/accounts/alice", headers={"X-API-Key": keys["bob"]}).status_code == 403
    assert c.get("/me").status_code == 401
    hit = c.get("/accounts/alice", headers={"X-API-Key": keys["alice"]})
    assert hit.headers["Cache-Status"] == "cacheward; hit"
