"""The HTML report in a real headless Chromium: it loads with no console error, loads
nothing from anywhere, runs no injected script, shows every finding, and is screenshotted
to ``test-artifacts/report.png``.

Locally a missing Chromium skips; under ``CI=true`` it fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.report.chromium import Page, chromium, find_chromium
from tests.report.sample_report import sample_report
from tests.support.binaries import missing

from cacheward.report.html import render_html

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    binary = find_chromium()
    if binary is None:
        missing("chromium is not installed (apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("chromium")
    report = tmp / "report.html"
    report.write_text(render_html(sample_report()), encoding="utf-8")
    with chromium(binary, tmp / "profile", tmp / "chromium.log") as page:
        page.send("Page.navigate", url=report.as_uri())
        page.wait_for("Page.loadEventFired")
        page.screenshot(ARTIFACTS / "report.png")
        yield page


def test_page_loads_without_console_errors(loaded: Page):
    assert loaded.evaluate("document.readyState") == "complete"
    assert loaded.errors() == []


def test_page_requests_nothing_but_itself(loaded: Page):
    urls = loaded.requested_urls()
    assert urls and all(u.startswith("file://") for u in urls), urls
    assert len(urls) == 1, urls


def test_injected_markup_stays_inert(loaded: Page):
    assert loaded.evaluate("typeof window.__pwned") == "undefined"
    assert loaded.evaluate("document.scripts.length") == 1
    assert loaded.evaluate("document.images.length") == 0
    titles = loaded.evaluate(
        "Array.from(document.querySelectorAll('.finding .title')).map(e => e.textContent)"
    )
    assert any("<script>window.__pwned = 1</script>" in t for t in titles)


def test_every_finding_is_rendered_and_visible(loaded: Page):
    expected = [f.id for f in sample_report().findings]
    shown = loaded.evaluate(
        """Array.from(document.querySelectorAll('details.finding')).map(d => {
             const r = d.getBoundingClientRect();
             return {id: d.id, check: d.dataset.check, open: d.open,
                     visible: r.width > 0 && r.height > 0
                              && getComputedStyle(d).visibility === 'visible'};
           })"""
    )
    assert sorted(s["check"] for s in shown) == sorted(expected)
    assert [s["id"] for s in shown] == [f"finding-{n}" for n in range(1, len(expected) + 1)]
    assert all(s["open"] and s["visible"] for s in shown), json.dumps(shown)
    assert loaded.evaluate("document.querySelectorAll('.fix').length") == len(expected)


def test_collapse_and_expand_buttons_work(loaded: Page):
    loaded.evaluate("document.querySelector('button[data-open=\"0\"]').click()")
    assert loaded.evaluate("document.querySelectorAll('details.finding[open]').length") == 0
    loaded.evaluate("document.querySelector('button[data-open=\"1\"]').click()")
    assert loaded.evaluate("document.querySelectorAll('details.finding:not([open])').length") == 0
    assert loaded.errors() == []


def test_screenshot_saved(loaded: Page):
    shot = ARTIFACTS / "report.png"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
