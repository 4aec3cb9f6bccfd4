"""JSON output: the stable machine contract of ``scan`` and ``check``."""

from __future__ import annotations

import json
from typing import Any

from ..core.finding import Finding, Report


def finding_dict(f: Finding) -> dict[str, Any]:
    """One finding as the JSON contract spells it."""
    out: dict[str, Any] = {
        "id": f.id,
        "severity": f.severity.value,
        "confidence": f.confidence.value,
        "title": f.title,
    }
    if f.method is not None or f.url is not None:
        out["method"] = f.method
        out["url"] = f.url
    if f.path is not None:
        out["path"] = f.path
        out["line"] = f.line
        out["column"] = f.column
    if f.cwe is not None:
        out["cwe"] = f.cwe
    out["evidence"] = dict(f.evidence)
    if f.steps:
        out["steps"] = list(f.steps)
    out["remediation"] = f.remediation
    return out


def report_dict(report: Report) -> dict[str, Any]:
    """The whole report as a JSON-able dict."""
    return {
        "tool": {"name": "cacheward", "command": report.tool, "version": report.version},
        "targets": list(report.targets),
        "findings": [finding_dict(f) for f in report.findings],
        "stats": dict(report.stats),
        "notes": list(report.notes),
        "inconclusive": list(report.inconclusive),
    }


def render_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, sort_keys=False) + "\n"
