"""SARIF 2.1.0 output, loadable by GitHub code scanning."""

from __future__ import annotations

import json
from typing import Any

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
        "physicalLocation": {"artifactLocation": {"uri": f.url or ""}},
        "logicalLocations": [{"name": f"{f.method or 'GET'} {f.url}", "kind": "resource"}],
    }


def render_sarif(report: Report) -> str:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for f in report.findings:
        if f.id not in rules:
            rules[f.id] = _rule(f)
        results.append(
            {
                "ruleId": f.id,
                "ruleIndex": list(rules).index(f.id),
                "level": _LEVEL[f.severity],
                "message": {"text": f"{f.title} ({f.where})"},
                "locations": [_location(f)],
                "properties": {
                    "severity": f.severity.value,
                    "confidence": f.confidence.value,
                    "evidence": dict(f.evidence),
                },
            }
        )
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
                "properties": {"command": report.tool, "stats": dict(report.stats)},
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
