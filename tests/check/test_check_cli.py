"""``cacheward check``: exit codes, formats, output file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cacheward.cli import main

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_clean_tree_exits_0(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", str(FIXTURES / "realworld")])
    assert result.exit_code == 0, result.output
    assert "0 finding(s)" in result.output


def test_findings_exit_1(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", str(FIXTURES / "httpauth_documented")])
    assert result.exit_code == 1
    assert "cache-outside-auth" in result.output
    assert "httpauth_documented/app.py:21" in result.output


def test_fail_on_raises_the_bar(runner: CliRunner) -> None:
    medium_only = str(FIXTURES / "query")
    assert runner.invoke(main, ["check", medium_only, "--fail-on", "high"]).exit_code == 0
    assert runner.invoke(main, ["check", medium_only, "--fail-on", "medium"]).exit_code == 1


def test_missing_path_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["check", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "cannot read" in result.stderr and "nope" in result.stderr


def test_no_path_is_a_usage_error(runner: CliRunner) -> None:
    assert runner.invoke(main, ["check"]).exit_code == 2


def test_syntax_error_is_a_note(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("def broken(:\n")
    result = runner.invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 0
    assert "note:" in result.output and "bad.py:1" in result.output


def test_json(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check", str(FIXTURES / "lookup"), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["tool"]["command"] == "check"
    source = (FIXTURES / "lookup" / "app.py").read_text().splitlines()
    first = next(i for i, line in enumerate(source, 1) if "expect: lookup-before-auth" in line)
    by_place = {(f["id"], f["line"]): f for f in doc["findings"]}
    assert by_place[("lookup-before-auth", first)]["cwe"] == 639
    assert all(f["path"].endswith("lookup/app.py") for f in doc["findings"])


def test_sarif_has_rules_and_located_results(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "report.sarif"
    args = ["check", str(FIXTURES / "headers"), "--format", "sarif", "--output", str(out)]
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    assert result.output == ""
    doc = json.loads(out.read_text())
    run = doc["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert set(rule_ids) == {"unkeyed-header", "proxyfix-host-unkeyed"}
    lines = set()
    for res in run["results"]:
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
        region = res["locations"][0]["physicalLocation"]["region"]
        lines.add((res["ruleId"], region["startLine"]))
    assert lines == {
        ("proxyfix-host-unkeyed", 8),
        ("unkeyed-header", 13),
        ("unkeyed-header", 19),
        ("unkeyed-header", 25),
    }


def test_unwritable_output_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "out.json"
    args = ["check", str(FIXTURES / "realworld"), "--output", str(target)]
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert "cannot write" in result.stderr


def test_exclude(runner: CliRunner) -> None:
    args = ["check", str(FIXTURES / "pickle"), "--exclude", "app.py", "--format", "json"]
    result = runner.invoke(main, args)
    doc = json.loads(result.output)
    assert {f["path"].rsplit("/", 1)[-1] for f in doc["findings"]} == {"config.py"}


def test_pre_commit_hook_is_declared() -> None:
    import yaml

    root = Path(__file__).resolve().parents[2]
    hooks = yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text())
    assert hooks[0]["id"] == "cacheward-check"
    assert hooks[0]["entry"] == "cacheward check"
    assert hooks[0]["language"] == "python"
    assert hooks[0]["types"] == ["python"]


def test_default_fail_on_is_medium(runner: CliRunner, tmp_path: Path) -> None:
    # Low findings are advice: alone they do not fail a CI run unless asked to.
    (tmp_path / "app.py").write_text("x = 1  # cacheward: ignore[key-in-query]\n")
    result = runner.invoke(main, ["check", str(tmp_path)])
    assert "suppression-without-reason" in result.output
    assert result.exit_code == 0
    assert runner.invoke(main, ["check", str(tmp_path), "--fail-on", "low"]).exit_code == 1


def test_newer_syntax_note_names_the_python(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "new.py").write_text("x = 1\ndef f(:\n")
    result = runner.invoke(main, ["check", str(tmp_path)])
    assert "new.py:2: not checked, Python 3." in result.output
    assert "PEP 695" in result.output


def _crashing_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken plugin: it raises while looking at the first view it meets."""
    from cacheward.check.registry import RULES, Rule, all_rules
    from cacheward.core.finding import Confidence, Severity

    all_rules()

    def broken(model: Any) -> Any:
        for view in model.views:
            raise KeyError(f"no such thing in {view.func.name}")
        raise RuntimeError("no views")
        yield  # pragma: no cover

    monkeypatch.setitem(
        RULES, "zz-broken", Rule("zz-broken", Severity.HIGH, Confidence.LOW, None, "t", "f", broken)
    )


def test_a_crashing_rule_is_a_note_and_the_run_goes_on(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    _crashing_rule(monkeypatch)
    result = runner.invoke(
        main, ["check", str(FIXTURES / "httpauth_documented"), "--format", "json"]
    )
    assert result.exit_code == 1, result.output  # the other rules' findings still count
    doc = json.loads(result.stdout)
    assert "cache-outside-auth" in {f["id"] for f in doc["findings"]}
    (note,) = doc["inconclusive"]
    assert note.startswith("rule zz-broken crashed on ") and "httpauth_documented/app.py" in note
    assert "KeyError" in note and note in doc["notes"]
    assert doc["stats"]["rules_crashed"] == 1
    assert "Traceback" not in result.output


def test_a_crash_with_nothing_found_is_inconclusive_exit_3(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    _crashing_rule(monkeypatch)
    clean = str(FIXTURES / "realworld")
    result = runner.invoke(main, ["check", clean])
    assert result.exit_code == 3, result.output
    assert "not tested: rule zz-broken crashed" in result.stdout
    assert runner.invoke(main, ["check", clean, "--inconclusive-ok"]).exit_code == 0
