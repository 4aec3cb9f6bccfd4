"""``docs/checks.md`` documents every scanner check id, with both examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from cacheward.core.finding import SCAN_CHECK_IDS

DOC = Path(__file__).parents[2] / "docs" / "checks.md"


@pytest.mark.parametrize("check_id", SCAN_CHECK_IDS)
def test_check_is_documented(check_id: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"\n## {check_id}\n" in text
    section = text.split(f"\n## {check_id}\n", 1)[1].split("\n## ", 1)[0]
    assert "Severity **" in section
    assert "**Vulnerable:**\n\n```python\n" in section
    assert "**Fixed:**\n\n```python\n" in section
    assert f"| [{check_id}](#{check_id}) |" in text


def test_no_undocumented_section() -> None:
    text = DOC.read_text(encoding="utf-8")
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == list(SCAN_CHECK_IDS)
