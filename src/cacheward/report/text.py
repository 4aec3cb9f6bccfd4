"""Plain-text output for people at a terminal."""

from __future__ import annotations

import json

from ..core.finding import Finding, Report, Severity

_COLORS = {
    Severity.CRITICAL: "\x1b[1;31m",
    Severity.HIGH: "\x1b[31m",
    Severity.MEDIUM: "\x1b[33m",
    Severity.LOW: "\x1b[36m",
    Severity.INFO: "\x1b[2m",
}
_RESET = "\x1b[0m"


def order(f: Finding) -> tuple[int, str, int, int, str, str, str]:
    """Severity first, then source position compared numerically (``app.py:5`` before
    ``app.py:10``), then URL and method, then the check id."""
    return (
        -f.severity.rank,
        f.path or "",
        f.line or 0,
        f.column or 0,
        f.url or "",
        f.method or "",
        f.id,
    )


def render_text(report: Report, *, color: bool = False) -> str:
    lines: list[str] = []
    ordered = sorted(report.findings, key=order)
    for f in ordered:
        sev = f.severity.value.upper()
        if color:
            sev = f"{_COLORS[f.severity]}{sev}{_RESET}"
        lines.append(f"[{sev}] {f.id}: {f.title}")
        lines.append(f"    at {f.where}")
        for key, value in f.evidence.items():
            shown = value if isinstance(value, str) else json.dumps(value)
            if len(shown) > 200:
                shown = shown[:197] + "..."
            lines.append(f"    {key}: {shown}")
        for step in f.steps:
            lines.append(f"    > {step}")
        lines.append(f"    fix: {f.remediation}")
        lines.append("")
    gaps = set(report.inconclusive)
    for note in report.notes:
        lines.append(f"{'not tested' if note in gaps else 'note'}: {note}")
    counts: dict[str, int] = {}
    for f in report.findings:
        counts[f.severity.value] = counts.get(f.severity.value, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no findings"
    stats = " ".join(f"{k}={v}" for k, v in report.stats.items())
    lines.append(f"cacheward {report.tool}: {len(report.findings)} finding(s) ({summary}). {stats}")
    if report.inconclusive:
        lines.append(
            f"INCONCLUSIVE: {len(report.inconclusive)} thing(s) could not be tested"
            " (the 'not tested' lines above); no findings there does not mean clean."
        )
    return "\n".join(lines).rstrip() + "\n"
