"""What a person at a terminal sees by default: low findings folded into one line.

Low findings are advice (``authenticated-no-cache-control``, a suppression without a
reason): they never fail a run under the default ``--fail-on medium``, and a page of them
buries the findings that do. The text report therefore lists medium and above and says in
one line how many lows it left out and of which rules; ``--verbose`` lists them all.
Machine formats (JSON, SARIF, HTML) always carry every finding, and the exit code is
computed on every finding whatever is shown.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from ..core.finding import Report, Severity


def fold_lows(report: Report) -> Report:
    """``report`` without its low findings, plus one note naming how many there were."""
    lows = [f for f in report.findings if f.severity < Severity.MEDIUM]
    if not lows:
        return report
    by_rule = Counter(f.id for f in lows)
    listed = ", ".join(f"{rule} x{count}" for rule, count in sorted(by_rule.items()))
    note = (
        f"{len(lows)} low finding(s) not listed ({listed}): advice that does not fail the"
        " run; --verbose lists them, --fail-on low fails on them"
    )
    kept = tuple(f for f in report.findings if f.severity >= Severity.MEDIUM)
    return replace(report, findings=kept, notes=(*report.notes, note))
