from __future__ import annotations

from cacheward.check.suppression import suppressions


def test_ids_and_reason() -> None:
    found = suppressions("x = 1  # cacheward: ignore[a-b, c] proxy sets it\n")
    s = found[1]
    assert s.ids == frozenset({"a-b", "c"})
    assert s.reason == "proxy sets it"
    assert s.covers("c") and not s.covers("d")


def test_missing_reason_and_trailing_comment() -> None:
    text = "x = 1  # cacheward: ignore[a]\ny = 2  # cacheward: ignore[a]  # noqa: E501\n"
    found = suppressions(text)
    assert found[1].reason == "" and found[2].reason == ""


def test_separator_is_not_a_reason() -> None:
    assert suppressions("x = 1  # cacheward: ignore[a] -\n")[1].reason == ""
    assert suppressions("x = 1  # cacheward: ignore[a] - why\n")[1].reason == "why"


def test_bare_ignore_covers_every_rule() -> None:
    s = suppressions("x = 1  # cacheward: ignore because\n")[1]
    assert s.covers("anything") and s.reason == "because"


def test_strings_are_not_comments() -> None:
    assert suppressions('x = "# cacheward: ignore[a] why"\n') == {}


def test_untokenizable_text_does_not_raise() -> None:
    assert suppressions("x = (\n") == {}
