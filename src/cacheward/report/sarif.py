"""SARIF 2.1.0 output, loadable by GitHub code scanning.

Check findings point at a source file and line. Scan findings point at a URL, which is
no file in the repository: GitHub code scanning still requires a non-empty
``physicalLocation.artifactLocation.uri`` on every result and matches alerts across runs
by that path, so a scan result's artifact is the URL *path* as a relative URI (stable
across hosts, staging and production alike), the full URL stays in
``logicalLocations`` and in the message, and ``partialFingerprints`` are filled in here
because GitHub cannot hash lines of a file that does not exist.

Notes (what a run could not test, what to check by hand) go in
``runs[].invocations[].toolExecutionNotifications``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

from ..core.finding import Finding, Report, Severity

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
HELP_BASE = "https://cacheward.readthedocs.io/en/latest/"


def _rule(f: Finding) -> dict[str, Any]:
    props: dict[str, Any] = {
        "security-severity": _SECURITY_SEVERITY[f.severity],
        "tags": ["security"],
    }
    if f.cwe is not None:
        props["tags"].append(f"external/cwe/cwe-{f.cwe}")
    kind = "checks" if f.path is None else "rules"
    return {
        "id": f.id,
        "name": f.id.replace("-", " ").title().replace(" ", ""),
        "shortDescription": {"text": f.title},
        "help": {"text": f.remediation, "markdown": f.remediation},
        "helpUri": f"{HELP_BASE}{kind}/#{f.id}",
        "defaultConfiguration": {"level": _LEVEL[f.severity]},
        "properties": props,
    }


def _location(f: Finding) -> dict[str, Any]:
    if f.path is not None:
        region: dict[str, Any] = {"startLine": max(f.line or 1, 1)}
        if f.column is not None:
            region["startColumn"] = f.column + 1
        return {
            "physicalLocation": {
                "artifactLocation": {"uri": f.path.replace("\\", "/")},
                "region": region,
            }
        }
    return {
        "physicalLocation": {"artifactLocation": {"uri": url_artifact(f.url or "")}},
        "logicalLocations": [
            {
                "name": url_artifact(f.url or ""),
                "fullyQualifiedName": f"{f.method or 'GET'} {f.url}",
                "kind": "resource",
            }
        ],
    }


def url_artifact(url: str) -> str:
    """A stable relative URI for a scanned URL: its path without scheme, host, query or
    leading ``/`` (``https://api.test/v1/me?x=1`` -> ``v1/me``; the root -> ``.``)."""
    return urlsplit(url).path.lstrip("/") or "."


def _fingerprint(f: Finding) -> dict[str, str]:
    """For scan results only: rule, method and URL path, hashed (host-independent)."""
    if f.path is not None:
        return {}
    raw = f"{f.id}|{f.method or 'GET'}|{url_artifact(f.url or '')}"
    return {"cachewardFinding/v1": hashlib.sha256(raw.encode()).hexdigest()}


def _invocation(report: Report) -> dict[str, Any]:
    """Every note as a tool execution notification, so CI shows what a run could not
    test: ``warning`` for what makes it inconclusive, ``note`` for the rest. The run
    failed (``executionSuccessful: false``) only when a scan reached no endpoint."""
    gaps = set(report.inconclusive)
    notifications = [
        {
            "level": "warning" if note in gaps else "note",
            "message": {"text": note},
            "descriptor": {"id": "inconclusive" if note in gaps else "note"},
        }
        for note in report.notes
    ]
    return {
        "executionSuccessful": report.stats.get("endpoints_scanned") != 0,
        "toolExecutionNotifications": notifications,
    }


def render_sarif(report: Report) -> str:
    rules: dict[str, dict[str, Any]] = {}
    index: dict[str, int] = {}
    results = []
    for f in report.findings:
        if f.id not in index:
            index[f.id] = len(rules)
            rules[f.id] = _rule(f)
        result: dict[str, Any] = {
            "ruleId": f.id,
            "ruleIndex": index[f.id],
            "level": _LEVEL[f.severity],
            "message": {"text": f"{f.title} ({f.where})"},
            "locations": [_location(f)],
            "properties": {
                "severity": f.severity.value,
                "confidence": f.confidence.value,
                "evidence": dict(f.evidence),
            },
        }
        fingerprint = _fingerprint(f)
        if fingerprint:
            result["partialFingerprints"] = fingerprint
        results.append(result)
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "cacheward",
                        "semanticVersion": report.version,
                        "informationUri": "https://github.com/cacheward/cacheward",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
                "invocations": [_invocation(report)],
                "properties": {
                    "command": report.tool,
                    "stats": dict(report.stats),
                    "inconclusive": bool(report.inconclusive),
                },
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
