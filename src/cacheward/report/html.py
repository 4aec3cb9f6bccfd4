"""HTML output: one self-contained page a person can open, attach to a ticket or archive.

The page loads nothing: its style and its one small script are inline, and a
Content-Security-Policy allows exactly those two (by hash) and nothing else, so that even
a string that escaped escaping could neither run nor fetch. Every value from the report
goes through :func:`html.escape`; URLs are shown, never linked.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from ..core.finding import Finding, Report, Severity

_ORDER = sorted(Severity, key=lambda s: -s.rank)

_CSS = """
:root{--fg:#1d2330;--muted:#5d6678;--bg:#f5f6f8;--card:#fff;--line:#dde1e8;
--critical:#8e1020;--high:#c62828;--medium:#b35c00;--low:#1565c0;--info:#5d6678;--ok:#2e7d32}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}
header{background:#1d2330;color:#fff;padding:24px 32px 60px}
header>div{max-width:1036px;margin:0 auto}
header h1{margin:0 0 4px;font-size:22px;font-weight:600}
header .meta{color:#b8c0cf;font-size:13px;margin:0}
main{max-width:1100px;margin:0 auto;padding:24px 32px 48px}
code,pre,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:13px}
.summary{display:flex;flex-wrap:wrap;gap:12px;margin:-56px 0 24px}
.count{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 16px;
box-shadow:0 1px 3px rgba(0,0,0,.08);
min-width:110px;border-top:4px solid var(--info)}
.count b{display:block;font-size:24px;line-height:1.2}
.count span{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.05em}
.count.critical{border-top-color:var(--critical)}.count.high{border-top-color:var(--high)}
.count.medium{border-top-color:var(--medium)}.count.low{border-top-color:var(--low)}
.count.zero{border-top-color:var(--line)}.count.zero b,.count.zero span{color:#a3aab7}
.panel{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 16px;
margin-bottom:16px}
.panel h2{font-size:13px;margin:0 0 6px;color:var(--muted);text-transform:uppercase;
letter-spacing:.05em}
.panel ul{margin:0;padding-left:18px}
.stats{display:flex;flex-wrap:wrap;gap:4px 20px;margin:0}
.stats div{display:flex;gap:6px}.stats dt{color:var(--muted)}.stats dd{margin:0;font-weight:600}
.controls{display:flex;gap:8px;margin:8px 0 16px}
button{font:inherit;font-size:13px;border:1px solid var(--line);background:var(--card);
border-radius:6px;padding:4px 10px;cursor:pointer}
section.severity>h2{font-size:18px;margin:28px 0 8px;display:flex;align-items:center;gap:8px}
h3.where{font-size:14px;margin:16px 0 8px;color:var(--muted);word-break:break-all}
details.finding{background:var(--card);border:1px solid var(--line);border-left:5px solid
var(--info);border-radius:8px;margin:0 0 12px;padding:0 16px}
details.finding>summary{cursor:pointer;padding:12px 0;list-style-position:outside}
details.finding[open]>summary{border-bottom:1px solid var(--line);margin-bottom:8px}
.finding .title{font-weight:600}
.finding .id{color:var(--muted);margin-left:6px}
.sev{display:inline-block;border-radius:4px;padding:1px 8px;color:#fff;font-size:12px;
font-weight:600;text-transform:uppercase;letter-spacing:.04em;background:var(--info)}
.critical .sev,.sev.critical{background:var(--critical)}.high .sev,.sev.high{background:var(--high)}
.medium .sev,.sev.medium{background:var(--medium)}.low .sev,.sev.low{background:var(--low)}
details.critical{border-left-color:var(--critical)}details.high{border-left-color:var(--high)}
details.medium{border-left-color:var(--medium)}details.low{border-left-color:var(--low)}
.finding h4{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);
margin:12px 0 4px}
.facts{color:var(--muted);font-size:13px}
.evidence{display:grid;grid-template-columns:minmax(8em,max-content) 1fr;gap:4px 12px;margin:0;
align-items:start}
.evidence dt{color:var(--muted)}.evidence dd{margin:0;min-width:0}
pre{margin:0;white-space:pre-wrap;word-break:break-all;background:#f0f2f5;border-radius:4px;
padding:4px 8px;max-height:16em;overflow:auto}
ol.steps{margin:0;padding-left:24px}ol.steps li{margin:2px 0}
ol.steps code{background:#f0f2f5;border-radius:4px;padding:1px 6px;word-break:break-all}
.fix{background:#eef7ee;border:1px solid #cfe6cf;border-radius:6px;padding:8px 12px;margin:0 0 12px}
.fix code{background:#fff;border-radius:3px;padding:0 4px}
.clean{background:var(--card);border:1px solid var(--line);border-left:5px solid var(--ok);
border-radius:8px;padding:16px;font-size:16px}
.panel.inconclusive{border-left:5px solid var(--medium)}
.clean.unsure{border-left-color:var(--medium)}
footer{color:var(--muted);font-size:12px;margin-top:32px}
"""

# The page's only script: expand or collapse every finding. It must stay free of
# interpolated data (its hash is pinned in the Content-Security-Policy).
_JS = """
document.querySelectorAll("button[data-open]").forEach(function (b) {
  b.addEventListener("click", function () {
    var open = b.getAttribute("data-open") === "1";
    document.querySelectorAll("details.finding").forEach(function (d) { d.open = open; });
  });
});
"""


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


_CSP = (
    "default-src 'none'; "
    f"style-src {_sha256(_CSS)}; script-src {_sha256(_JS)}; "
    "img-src 'none'; base-uri 'none'; form-action 'none'"
)


def _where_key(f: Finding) -> str:
    """The group a finding belongs to: an endpoint (``GET url``) or a file."""
    if f.path is not None:
        return f.path
    if f.url is not None:
        return f"{f.method or 'GET'} {f.url}"
    return "-"


def _code_spans(text: str) -> str:
    """Escape ``text``, showing `backticked` parts as code."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: show it as it is
        return escape(text)
    out = []
    for i, part in enumerate(parts):
        out.append(f"<code>{escape(part)}</code>" if i % 2 else escape(part))
    return "".join(out)


def _value(value: Any) -> str:
    if isinstance(value, str):
        return f"<pre>{escape(value)}</pre>"
    try:
        shown = json.dumps(value, indent=2, sort_keys=True, default=str)
    except (TypeError, ValueError):
        shown = repr(value)
    return f"<pre>{escape(shown)}</pre>"


def _evidence(evidence: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<dt>{escape(str(key))}</dt><dd>{_value(value)}</dd>" for key, value in evidence.items()
    )
    return f'<h4>Evidence</h4><dl class="evidence">{rows}</dl>'


def _steps(steps: Iterable[str]) -> str:
    items = "".join(f"<li><code>{escape(step)}</code></li>" for step in steps)
    return f'<h4>How to reproduce</h4><ol class="steps">{items}</ol>'


def _finding(f: Finding, anchor: str) -> str:
    sev = f.severity.value
    facts = [f"confidence: {escape(f.confidence.value)}"]
    if f.cwe is not None:
        facts.append(f"CWE-{int(f.cwe)}")
    if f.path is not None:
        loc = escape(f.path)
        if f.line is not None:
            loc += f":{int(f.line)}"
            if f.column is not None:
                loc += f":{int(f.column) + 1}"
        facts.append(f'<span class="mono">{loc}</span>')
    elif f.url is not None:
        facts.append(f'<span class="mono">{escape(f.method or "GET")} {escape(f.url)}</span>')
    body = [f'<p class="facts">{" · ".join(facts)}</p>']
    if f.evidence:
        body.append(_evidence(f.evidence))
    if f.steps:
        body.append(_steps(f.steps))
    body.append(f'<h4>Fix for Flask</h4><p class="fix">{_code_spans(f.remediation)}</p>')
    return (
        f'<details class="finding {sev}" id="{anchor}" data-check="{escape(f.id)}"'
        f' data-severity="{sev}" open>'
        f'<summary><span class="sev">{sev}</span> <span class="title">{escape(f.title)}</span>'
        f'<span class="id mono">{escape(f.id)}</span></summary>' + "".join(body) + "</details>"
    )


def _summary(report: Report) -> str:
    counts = {s: 0 for s in Severity}
    for f in report.findings:
        counts[f.severity] += 1
    boxes = "".join(
        f'<div class="count {s.value}{" zero" if not counts[s] else ""}"'
        f' data-severity="{s.value}"><b>{counts[s]}</b><span>{s.value}</span></div>'
        for s in _ORDER
    )
    parts = [f'<div class="summary">{boxes}</div>']
    if report.targets:
        items = "".join(f'<li class="mono">{escape(t)}</li>' for t in report.targets)
        parts.append(f'<div class="panel targets"><h2>Targets</h2><ul>{items}</ul></div>')
    if report.stats:
        rows = "".join(
            f"<div><dt>{escape(str(k))}</dt><dd>{escape(_plain(v))}</dd></div>"
            for k, v in report.stats.items()
        )
        parts.append(f'<div class="panel"><h2>Stats</h2><dl class="stats">{rows}</dl></div>')
    if report.inconclusive:
        items = "".join(f"<li>{escape(n)}</li>" for n in report.inconclusive)
        parts.append(
            '<div class="panel inconclusive" id="inconclusive"><h2>Inconclusive: not'
            f" tested</h2><ul>{items}</ul></div>"
        )
    others = [n for n in report.notes if n not in set(report.inconclusive)]
    if others:
        items = "".join(f"<li>{escape(n)}</li>" for n in others)
        parts.append(f'<div class="panel notes"><h2>Notes</h2><ul>{items}</ul></div>')
    return "".join(parts)


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _findings(report: Report) -> str:
    if not report.findings and report.inconclusive:
        return (
            '<p class="clean unsure" id="no-findings">No findings, but the scan is'
            " inconclusive: see what was not tested above.</p>"
        )
    if not report.findings:
        return '<p class="clean" id="no-findings">✔ No findings.</p>'
    out = [
        '<div class="controls"><button type="button" data-open="1">Expand all</button>'
        '<button type="button" data-open="0">Collapse all</button></div>'
    ]
    number = 0
    for sev in _ORDER:
        of_sev = [f for f in report.findings if f.severity is sev]
        if not of_sev:
            continue
        out.append(
            f'<section class="severity {sev.value}" id="severity-{sev.value}">'
            f'<h2><span class="sev {sev.value}">{sev.value}</span> {len(of_sev)} finding'
            f"{'' if len(of_sev) == 1 else 's'}</h2>"
        )
        groups: dict[str, list[Finding]] = {}
        for f in sorted(of_sev, key=lambda f: (_where_key(f), f.line or 0, f.id)):
            groups.setdefault(_where_key(f), []).append(f)
        for where, group in groups.items():
            out.append(f'<h3 class="where mono">{escape(where)}</h3>')
            for f in group:
                number += 1
                out.append(_finding(f, f"finding-{number}"))
        out.append("</section>")
    return "".join(out)


def render_html(report: Report) -> str:
    """Render ``report`` as one self-contained HTML page.

    Findings are grouped by severity (worst first), then by endpoint or file; each shows
    its evidence, the request sequence that proves it and the fix for Flask.

    .. versionadded:: 0.1
    """
    title = f"cacheward {report.tool} report"
    n = len(report.findings)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><div><h1>{escape(title)}</h1>"
        f'<p class="meta">cacheward {escape(report.version)} · {n} finding'
        f"{'' if n == 1 else 's'}</p></div></header>"
        f"<main>{_summary(report)}{_findings(report)}"
        "<footer>Evidence is redacted: no API key appears in this report.</footer>"
        f"</main><script>{_JS}</script></body></html>\n"
    )
