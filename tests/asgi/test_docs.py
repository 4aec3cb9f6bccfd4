"""docs/fastapi.md: the quick start runs as written and does what it says."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_fastapi_quick_start_runs_as_written(capsys):
    text = (DOCS / "fastapi.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 3
    namespace: dict[str, object] = {"__name__": "fastapi_quickstart"}
    for block in blocks:
        exec(block, namespace)  # noqa: S102 - our own documentation
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("cacheward; hit")
    assert "{'id': 'alice', 'owner': 'alice'}" in lines[0]
    assert lines[1:] == ["403", "401"]
    client = namespace["client"]
    key = namespace["issued"].plaintext  # type: ignore[attr-defined]
    r = client.get("/catalog", headers={"X-API-Key": key})  # type: ignore[attr-defined]
    assert r.status_code == 200 and r.headers["cache-control"] == "private, no-cache"
    # The plain Starlette example.
    from starlette.testclient import TestClient

    key = namespace["reports_keys"].create("bob", ["reports:read"]).plaintext  # type: ignore[attr-defined]
    with TestClient(namespace["reports"]) as c:  # type: ignore[arg-type]
        assert c.get("/report", headers={"X-API-Key": key}).json() == {"for": "bob"}
        again = c.get("/report", headers={"X-API-Key": key})
        assert again.headers["cache-status"] == "cacheward; hit"
        assert c.get("/report").status_code == 401
