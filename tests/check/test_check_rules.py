"""Every fixture app yields exactly the findings its ``# expect: ID`` marks name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cacheward.check import check_paths
from cacheward.check.registry import all_rules

FIXTURES = Path(__file__).parent / "fixtures"
APPS = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
EXPECT = re.compile(r"#\s*expect:\s*([\w\-, ]+)")
CLEAN_TWINS = (
    "httpauth_fixed",
    "cacheward_correct",
    "realworld",
    "factory_fixed",
    "registration_fixed",
    "fastapi_fixed",
    "fastapi_routers_fixed",
)

Triple = tuple[str, int, str]


def expectations(root: Path) -> set[Triple]:
    expected: set[Triple] = set()
    for file in sorted(root.rglob("*.py")):
        rel = file.relative_to(root).as_posix()
        for number, line in enumerate(file.read_text().splitlines(), start=1):
            match = EXPECT.search(line)
            if match:
                for rule_id in match[1].split(","):
                    expected.add((rel, number, rule_id.strip()))
    return expected


def found(root: Path) -> set[Triple]:
    report = check_paths([root])
    return {
        (Path(f.path or "").resolve().relative_to(root.resolve()).as_posix(), f.line or 0, f.id)
        for f in report.findings
    }


@pytest.mark.parametrize("app", APPS, ids=[p.name for p in APPS])
def test_findings_equal_expectations(app: Path) -> None:
    expected = expectations(app)
    actual = found(app)
    assert actual - expected == set(), "false positives"
    assert expected - actual == set(), "missed findings"


@pytest.mark.parametrize("name", CLEAN_TWINS)
def test_clean_twins_have_no_findings(name: str) -> None:
    report = check_paths([FIXTURES / name])
    assert report.findings == ()
    assert report.stats["views"] >= 2


def test_every_rule_is_exercised_by_a_fixture() -> None:
    marked = {rule_id for app in APPS for _, _, rule_id in expectations(app)}
    assert marked == set(all_rules())


def test_syntax_error_is_a_note_and_the_run_goes_on() -> None:
    report = check_paths([FIXTURES / "broken"])
    assert [f.id for f in report.findings] == ["key-in-query"]
    assert len(report.notes) == 1
    assert "bad.py:6" in report.notes[0]
    assert "not checked, Python 3." in report.notes[0]


def test_suppression_with_reason_hides_only_its_ids() -> None:
    report = check_paths([FIXTURES / "suppression"])
    assert report.stats["suppressed"] == 2
    lines = {(f.line, f.id) for f in report.findings}
    assert (9, "unkeyed-header") not in lines
    assert (21, "unkeyed-header") in lines


def test_decorators_resolved_across_modules() -> None:
    report = check_paths([FIXTURES / "blueprint_pkg"])
    outside = [f for f in report.findings if f.id == "cache-outside-auth"]
    assert {f.evidence["auth"] for f in outside} == {"require_api_key", "require_scope"}


def test_unkeyed_host_is_high_confidence_behind_proxyfix() -> None:
    report = check_paths([FIXTURES / "headers"])
    by_line = {f.line: f for f in report.findings if f.id == "unkeyed-header"}
    assert by_line[13].confidence.value == "high"
    assert by_line[25].confidence.value == "medium"


def test_findings_carry_no_credential_values(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(
        "from flask import request\n"
        "from flask_caching import Cache\n"
        "cache = Cache()\n"
        "def v():\n"
        "    api_key = request.headers.get('X-API-Key')\n"
        "    return cache.get('cw_live_SECRETVALUE' + api_key)\n"
    )
    report = check_paths([app])
    assert [f.id for f in report.findings] == ["credential-in-key"]
    assert "SECRETVALUE" not in repr(report.findings[0].evidence)


def test_demo_vulnerable_app_is_flagged_and_guarded_app_is_not() -> None:
    demo = Path(__file__).parents[2] / "src" / "cacheward" / "demo" / "apps.py"
    report = check_paths([demo])
    by_rule: dict[str, set[int]] = {}
    for f in report.findings:
        by_rule.setdefault(f.id, set()).add(f.line or 0)
    assert len(by_rule["cache-outside-auth"]) == 4  # nested require_key in the factory
    assert len(by_rule["public-authenticated"]) >= 4  # Cache-Control: public in public()
    guarded = next(
        i for i, line in enumerate(demo.read_text().splitlines(), 1) if "def guarded_app" in line
    )
    assert all(f.line is not None and f.line < guarded for f in report.findings)


def test_an_auth_decorator_made_by_a_factory_is_an_auth_decorator(tmp_path: Path) -> None:
    """``require_key = make_auth(keys)`` (module level or inside an app factory) binds the
    factory's inner decorator: a cache above it answers before authentication."""
    src = tmp_path / "app.py"
    src.write_text(
        """
import functools
from flask import Flask, request, abort
from flask_caching import Cache

def make_auth(keys):
    def require_key(view):
        @functools.wraps(view)
        def wrapper(*a, **k):
            if request.headers.get("X-API-Key") not in keys:
                abort(401)
            return view(*a, **k)
        return wrapper
    return require_key

def create_app(keys):
    app = Flask(__name__)
    cache = Cache(app)
    require_key = make_auth(keys)

    @app.get("/report")
    @cache.cached(timeout=60)
    @require_key
    def report():
        return {"ok": True}

    @app.get("/fixed")
    @require_key
    @cache.cached(timeout=60, query_string=True)
    def fixed():
        return {"ok": True}
    return app
"""
    )
    report = check_paths([src])
    outside = [f for f in report.findings if f.id == "cache-outside-auth"]
    assert [f.line for f in outside] == [22]  # /report only
