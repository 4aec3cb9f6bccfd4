"""Text ordering and the SARIF shape GitHub code scanning needs."""

from __future__ import annotations

import json

from cacheward.core.finding import Finding, Report, Severity
from cacheward.report.sarif import render_sarif, url_artifact
from cacheward.report.text import render_text


def _check(line: int, path: str = "app.py", rule: str = "public-authenticated") -> Finding:
    return Finding(
        id=rule, severity=Severity.HIGH, title="t", remediation="r", path=path, line=line
    )


def _scan(url: str, rule: str = "cross-key-leak") -> Finding:
    return Finding(
        id=rule, severity=Severity.CRITICAL, title="t", remediation="r", method="GET", url=url
    )


def _report(*findings: Finding) -> Report:
    return Report(tool="check", version="0", targets=(), findings=findings)


def test_text_sorts_lines_numerically() -> None:
    out = render_text(_report(_check(10), _check(5), _check(2, "a.py")))
    assert [ln for ln in out.splitlines() if ln.startswith("    at ")] == [
        "    at a.py:2",
        "    at app.py:5",
        "    at app.py:10",
    ]


def test_sarif_scan_result_has_relative_artifact_and_url_in_logical_location() -> None:
    url = "https://api.example.test/v1/accounts/7?lang=en"
    doc = json.loads(render_sarif(_report(_scan(url))))
    result = doc["runs"][0]["results"][0]
    loc = result["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == "v1/accounts/7"
    assert loc["logicalLocations"][0]["fullyQualifiedName"] == f"GET {url}"
    assert url in result["message"]["text"]
    assert "://" not in json.dumps(loc["physicalLocation"])
    other_host = json.loads(render_sarif(_report(_scan("http://staging:8080/v1/accounts/7"))))
    assert (
        other_host["runs"][0]["results"][0]["partialFingerprints"] == result["partialFingerprints"]
    )


def test_url_artifact_edges() -> None:
    assert url_artifact("https://h.test") == "."
    assert url_artifact("https://h.test/") == "."
    assert url_artifact("https://h.test/a%2Fb;x.css") == "a%2Fb;x.css"


def test_sarif_check_result_keeps_file_and_line_without_fingerprint() -> None:
    doc = json.loads(render_sarif(_report(_check(12))))
    result = doc["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app.py"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 12
    assert "partialFingerprints" not in result


class _CountingId(str):
    """A rule id that counts how often it is compared (lookups, not hashing)."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        _CountingId.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_sarif_rule_index_points_at_its_rule_and_is_linear() -> None:
    n = 400
    # Every finding gets its own (equal, not identical) id object, as parsing would.
    findings = tuple(_check(i + 1, rule=_CountingId(f"rule-{i % n}")) for i in range(2 * n))
    _CountingId.compared = 0
    doc = json.loads(render_sarif(_report(*findings)))
    run = doc["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rules == [f"rule-{i}" for i in range(n)]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in run["results"])
    assert _CountingId.compared < 10 * n  # list(rules).index per result: ~n*n/2
