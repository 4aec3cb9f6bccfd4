"""Findings: what ``scan`` and ``check`` report, in one model shared by every renderer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Severity(Enum):
    """How bad a finding is; ordered, so ``--fail-on`` can compare."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


class Confidence(Enum):
    """How sure the tool is that the finding is real."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


#: The scanner's stable check ids (the JSON ``id`` field).
SCAN_CHECK_IDS = (
    "cross-key-leak",
    "anonymous-cache-leak",
    "auth-after-cache",
    "error-cached",
    "unkeyed-header",
    "unkeyed-param",
    "param-cloaking",
    "fat-get",
    "method-override",
    "cache-deception",
    "cache-deception-path",
    "cpdos",
    "host-header",
    "duplicate-host",
    "unkeyed-cookie",
    "response-splitting",
    "path-normalization",
    "param-pollution",
    "key-in-url",
    "cacheable-authenticated",
    "set-cookie-cacheable",
    "hidden-cache",
)


@dataclass(frozen=True)
class Finding:
    """One problem found by ``scan`` (``method`` + ``url``) or ``check`` (``path`` + ``line``).

    ``evidence`` is JSON-able and already redacted: no API key ever reaches a finding.
    ``steps`` is the request sequence (or code path) that proves it.
    """

    id: str
    severity: Severity
    title: str
    remediation: str
    confidence: Confidence = Confidence.HIGH
    cwe: int | None = None
    method: str | None = None
    url: str | None = None
    path: str | None = None
    line: int | None = None
    column: int | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    steps: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """A short human location: ``GET https://...`` or ``app.py:12``."""
        if self.path is not None:
            return f"{self.path}:{self.line}" if self.line is not None else self.path
        if self.url is not None:
            return f"{self.method or 'GET'} {self.url}"
        return "-"


@dataclass(frozen=True)
class Report:
    """Everything a run found: what every renderer draws.

    ``inconclusive`` holds the notes (each also in ``notes``) that name something the run
    set out to test and could not: an endpoint or check skipped, a budget spent, a rule
    that crashed, a result to check by hand. "No findings" with any of them is not clean.
    """

    tool: str
    version: str
    targets: tuple[str, ...]
    findings: tuple[Finding, ...]
    stats: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    inconclusive: tuple[str, ...] = ()

    def at_or_above(self, severity: Severity) -> tuple[Finding, ...]:
        """Findings whose severity is ``severity`` or worse."""
        return tuple(f for f in self.findings if f.severity >= severity)
