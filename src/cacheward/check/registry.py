"""Rules: small decorated functions over the :class:`~.model.AppModel`.

A rule yields :class:`Issue` values; the registry turns them into
:class:`~cacheward.core.finding.Finding` with the rule's stable id, severity, confidence
and CWE. The rule's docstring is its user documentation.

.. code-block:: python

    @rule("key-in-query", Severity.MEDIUM, Confidence.HIGH, cwe=598,
          title="API key accepted from the query string",
          fix="Read the key from the X-API-Key header only.")
    def key_in_query(model: AppModel) -> Iterator[Issue]:
        \"\"\"...\"\"\"
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.finding import Confidence, Finding, Severity
from .model import AppModel


@dataclass(frozen=True)
class Issue:
    """What a rule found: where, and the evidence (never a secret)."""

    path: str
    node: ast.AST
    evidence: Mapping[str, Any] = field(default_factory=dict)
    confidence: Confidence | None = None

    @property
    def line(self) -> int:
        return getattr(self.node, "lineno", 1)


RuleFunc = Callable[[AppModel], Iterator[Issue]]


@dataclass(frozen=True)
class Rule:
    """A registered rule."""

    id: str
    severity: Severity
    confidence: Confidence
    cwe: int | None
    title: str
    fix: str
    func: RuleFunc

    @property
    def doc(self) -> str:
        """The user documentation: the rule function's docstring."""
        return inspect.cleandoc(self.func.__doc__ or "")

    def finding(self, issue: Issue) -> Finding:
        return Finding(
            id=self.id,
            severity=self.severity,
            title=self.title,
            remediation=self.fix,
            confidence=issue.confidence or self.confidence,
            cwe=self.cwe,
            path=issue.path,
            line=issue.line,
            column=getattr(issue.node, "col_offset", None),
            evidence=dict(issue.evidence),
        )


#: Every registered rule, by id.
RULES: dict[str, Rule] = {}


def rule(
    id: str,
    severity: Severity,
    confidence: Confidence,
    *,
    cwe: int | None,
    title: str,
    fix: str,
) -> Callable[[RuleFunc], RuleFunc]:
    """Register the decorated function as the rule ``id`` (ids are stable once released).

    :param title: one line saying what is wrong.
    :param fix: one or two sentences saying how to fix it.
    """

    def register(func: RuleFunc) -> RuleFunc:
        if id in RULES:
            raise ValueError(f"duplicate rule id {id!r}")
        RULES[id] = Rule(id, severity, confidence, cwe, title, fix, func)
        return func

    return register


def all_rules() -> dict[str, Rule]:
    """Every rule, after importing the bundled rule modules."""
    from . import rules  # noqa: F401  (registers)

    return RULES
