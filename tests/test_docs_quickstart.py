"""The quick start in ``docs/index.md`` runs as written and does what it says."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_quick_start_runs_and_caches_per_principal():
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 2
    namespace: dict[str, object] = {"__name__": "quickstart"}
    exec(blocks[0], namespace)  # noqa: S102 - our own documentation
    exec(blocks[1].replace("print(issued.plaintext)", ""), namespace)  # noqa: S102
    app = namespace["app"]
    key = namespace["issued"].plaintext  # type: ignore[attr-defined]
    client = app.test_client()  # type: ignore[attr-defined]
    first = client.get("/accounts/alice", headers={"X-API-Key": key})
    again = client.get("/accounts/alice", headers={"X-API-Key": key})
    assert first.get_json() == {"id": "alice", "owner": "alice"}
    assert again.headers["Cache-Status"] == "cacheward; hit"
    assert client.get("/accounts/bob", headers={"X-API-Key": key}).status_code == 403
    assert client.get("/accounts/alice").status_code == 401


def test_every_nav_page_exists():
    nav = re.findall(r":\s*(\S+\.md)$", (DOCS.parent / "mkdocs.yml").read_text(), re.M)
    assert nav and all((DOCS / page).is_file() for page in nav)
    assert {p.name for p in DOCS.glob("*.md")} == set(nav)
