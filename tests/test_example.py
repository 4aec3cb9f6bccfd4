"""The README's example API works as the README says."""

from __future__ import annotations

import importlib.util
import pathlib

EXAMPLE = pathlib.Path(__file__).parents[1] / "examples" / "accounts_api.py"


def load():
    spec = importlib.util.spec_from_file_location("accounts_api_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_api_guards_and_caches(capsys):
    module = load()
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
