"""Text reports fold low findings into one line unless ``--verbose``; formats for machines
and the exit code always see every finding."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cacheward.cli import main

APP = str(Path(__file__).parent / "fixtures" / "public")
LOW = "authenticated-no-cache-control"


def test_text_lists_lows_as_one_note_by_default() -> None:
    result = CliRunner().invoke(main, ["check", APP])
    assert f"] {LOW}:" not in result.output
    assert f"1 low finding(s) not listed ({LOW} x1)" in result.output
    assert "public-authenticated" in result.output  # medium and above still listed


def test_verbose_lists_every_low() -> None:
    result = CliRunner().invoke(main, ["check", APP, "--verbose"])
    assert f"[LOW] {LOW}:" in result.output
    assert "not listed" not in result.output


def test_json_keeps_every_finding_and_fail_on_low_sees_folded_lows(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check", APP, "--format", "json"])
    ids = {f["id"] for f in json.loads(result.output)["findings"]}
    assert LOW in ids
    lows_only = tmp_path / "app.py"
    lows_only.write_text(
        "x = 1  # cacheward: ignore[key-in-query]\n", encoding="utf-8"
    )  # a suppression without a reason: a low finding and nothing else
    assert CliRunner().invoke(main, ["check", str(lows_only)]).exit_code == 0
    folded = CliRunner().invoke(main, ["check", str(lows_only), "--fail-on", "low"])
    assert folded.exit_code == 1
    assert "1 low finding(s) not listed (suppression-without-reason x1)" in folded.output
