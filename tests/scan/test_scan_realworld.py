"""The held-out corpus runner (``benchmarks/scan_realworld.py``) and its corpus."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import scan_realworld

from cacheward.core.finding import SCAN_CHECK_IDS

CORPUS = Path(scan_realworld.HERE, "scan_corpus.json")


def test_corpus_lists_repositories_at_commits_with_known_ids_and_no_code() -> None:
    targets = json.loads(CORPUS.read_text())["targets"]
    assert len(targets) >= 6
    for t in targets:
        assert t["repo"].count("/") == 1 and t["commit"], t["name"]
        assert t["kind"] in ("lab", "lab-fixed", "proxy"), t["name"]
        for v in t["intended"]:
            assert set(v["ids"]) <= set(SCAN_CHECK_IDS) and v["why"], (t["name"], v)
        assert set(t.get("traps", [])) <= set(t.get("clean", [])), t["name"]
        for label in t.get("labels", {}):
            assert label.split()[0] in SCAN_CHECK_IDS, label


def test_runner_scores_a_real_scan_of_our_origin(tmp_path: Path) -> None:
    """Our origin alone, nothing caching: no finding, so the made-up intended one is a
    miss and nothing is false; the servers it started are gone (``Server.stop``)."""
    entry = {
        "name": "origin alone",
        "repo": "cacheward/origin",
        "origin": {"type": "origin"},
        "keys": {"type": "api-key"},
        "intended": [{"path": "/api/me", "ids": ["cross-key-leak"], "why": "none: a check"}],
        "clean": ["/api/public"],
        "traps": ["/api/public"],
    }
    r = scan_realworld.scan(entry, tmp_path, "python", dump=tmp_path)
    assert not r.error
    assert (r.intended, r.found, r.missed, r.false) == (1, [], ["cross-key-leak /api/me"], [])
    assert 0 < r.per_max <= 400
    report = json.loads((tmp_path / "cacheward+origin.json").read_text())
    assert "origin-key-" not in json.dumps(report)  # keys stay redacted in the report
    assert "1/1" not in scan_realworld.report([r]) and "recall 0/1" in scan_realworld.report([r])
