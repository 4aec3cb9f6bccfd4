"""The HTML renderer: grouping, escaping, and no way to load or run anything else."""

from __future__ import annotations

import re

from tests.report.sample_report import XSS, sample_report

from cacheward.core.finding import Finding, Report, Severity
from cacheward.report import Format, render
from cacheward.report.html import render_html


def test_dispatched_by_format():
    report = sample_report()
    assert Format("html") is Format.HTML
    assert render(report, Format.HTML) == render_html(report)


def test_hostile_strings_are_escaped_everywhere():
    page = render_html(sample_report())
    assert XSS not in page
    assert "<script>window" not in page
    assert "<img" not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    # The one script is ours.
    assert page.count("<script>") == 1


def test_nothing_is_loaded_and_only_our_script_may_run():
    page = render_html(sample_report())
    assert not re.search(r"""\b(src|href)\s*=""", page.replace("src=x", ""))
    assert 'http-equiv="Content-Security-Policy"' in page
    assert "default-src 'none'" in page
    assert "unsafe-inline" not in page


def test_grouped_by_severity_then_location():
    page = render_html(sample_report())
    order = [m.group(1) for m in re.finditer(r'<section class="severity (\w+)"', page)]
    assert order == ["critical", "high", "medium", "low", "info"]
    high = page[page.index('id="severity-high"') : page.index('id="severity-medium"')]
    wheres = re.findall(r'<h3 class="where mono">([^<]*)</h3>', high)
    assert wheres[0].startswith("GET https://api.example.test/x?q=")
    assert wheres[1] == "app/views.py"
    critical = page[: page.index('id="severity-high"')]
    # Two findings on one endpoint share one heading.
    assert critical.count('<h3 class="where mono">') == 1
    assert critical.count('class="finding critical"') == 2


def test_each_finding_has_evidence_steps_and_fix():
    page = render_html(sample_report())
    for n in range(1, 8):
        assert f'id="finding-{n}"' in page
    assert page.count("<h4>Fix for Flask</h4>") == 7
    assert "<code>@ward.cached</code>" in page
    assert "GET /report?cb=7f3a with key B -&gt; 200" in page
    assert "app/views.py:42:1" in page


def test_summary_counts_and_targets():
    page = render_html(sample_report())
    assert re.search(r'data-severity="critical"><b>2</b>', page)
    assert re.search(r'data-severity="info"><b>1</b>', page)
    assert "https://api.example.test" in page
    assert "requests" in page and "128" in page


def test_empty_report_says_so():
    page = render_html(Report(tool="check", version="0.1.0", targets=("app.py",), findings=()))
    assert 'id="no-findings"' in page
    assert "0 findings" in page


def test_unmatched_backtick_is_shown_as_is():
    f = Finding(id="x", severity=Severity.LOW, title="t", remediation="a ` b <i>", path="p.py")
    page = render_html(Report(tool="check", version="0", targets=(), findings=(f,)))
    assert "a ` b &lt;i&gt;" in page
