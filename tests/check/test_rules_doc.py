"""``docs/rules.md`` is generated from the rule registry and must stay in sync with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs import gen_rules

from cacheward.check.registry import all_rules


def test_rules_md_is_in_sync_with_the_registry() -> None:
    on_disk = gen_rules.OUT.read_text(encoding="utf-8")
    assert on_disk == gen_rules.render(), "run: uv run python docs/gen_rules.py"


def test_every_rule_has_a_section_with_both_examples() -> None:
    text = gen_rules.render()
    for rule_id in all_rules():
        section = text.split(f"\n## {rule_id}\n", 1)[1].split("\n## ", 1)[0]
        assert "**Vulnerable:**\n\n```python\n" in section
        assert "**Fixed:**\n\n```python\n" in section
        assert "``" not in section.replace("```", "")  # no reST literal left over


def test_check_mode_reports_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gen_rules, "OUT", tmp_path / "rules.md")
    assert gen_rules.main(["--check"]) == 1
    assert gen_rules.main([]) == 0
    assert gen_rules.main(["--check"]) == 0
