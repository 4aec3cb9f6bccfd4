"""Rule metadata is complete and stable (bandit's ``test_properties``)."""

from __future__ import annotations

import importlib
import re

import pytest

from cacheward.check.registry import RULES, Issue, Rule, all_rules, rule
from cacheward.core.finding import Confidence, Severity

EXPECTED = {
    "cache-outside-auth": Severity.HIGH,
    "lookup-before-auth": Severity.HIGH,
    "credential-in-key": Severity.MEDIUM,
    "identity-unkeyed": Severity.HIGH,
    "unkeyed-header": Severity.MEDIUM,
    "public-authenticated": Severity.HIGH,
    "authenticated-no-cache-control": Severity.LOW,
    "key-in-query": Severity.MEDIUM,
    "query-string-ignored": Severity.MEDIUM,
    "pickle-shared-cache": Severity.MEDIUM,
    "proxyfix-host-unkeyed": Severity.MEDIUM,
    "suppression-without-reason": Severity.LOW,
    "memoize-address-key": Severity.HIGH,
}
RULE_LIST = sorted(all_rules().values(), key=lambda r: r.id)


def test_rule_ids_and_severities_are_stable() -> None:
    assert {r.id: r.severity for r in RULE_LIST} == EXPECTED


@pytest.mark.parametrize("r", RULE_LIST, ids=[r.id for r in RULE_LIST])
def test_rule_is_documented(r: Rule) -> None:
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", r.id)
    assert "Vulnerable::" in r.doc and "Fixed::" in r.doc
    assert r.title and not r.title.endswith(".")
    assert r.fix.endswith(".")
    assert r.cwe is None or r.cwe > 0
    assert isinstance(r.confidence, Confidence)


@pytest.mark.parametrize("r", RULE_LIST, ids=[r.id for r in RULE_LIST])
def test_one_rule_per_module_named_after_it(r: Rule) -> None:
    module = importlib.import_module(r.func.__module__)
    assert module.__name__.rsplit(".", 1)[-1] == r.id.replace("-", "_")


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):

        @rule("cache-outside-auth", Severity.LOW, Confidence.LOW, cwe=None, title="t", fix="f.")
        def again(model: object) -> list[Issue]:
            return []

    assert RULES["cache-outside-auth"].severity is Severity.HIGH
