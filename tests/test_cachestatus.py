"""The one builder and reader of the guard's ``Cache-Status`` (core/cachestatus.py)."""

from __future__ import annotations

import re
from pathlib import Path

from cacheward.core import cachestatus

GUARD_DOC = Path(__file__).resolve().parents[1] / "docs" / "guard.md"


def test_the_values_on_the_wire_are_pinned() -> None:
    assert cachestatus.HIT == "cacheward; hit"
    assert cachestatus.STORED == "cacheward; fwd=miss; stored"
    assert cachestatus.not_stored("unkeyed-input") == "cacheward; fwd=miss; detail=unkeyed-input"
    assert cachestatus.bypass("backend unavailable") == (
        "cacheward; fwd=bypass; detail=backend-unavailable"
    )


def test_our_member_is_found_among_other_caches() -> None:
    value = f'CDN; fwd=uri-miss, "Edge Cache"; hit, {cachestatus.not_stored("not-storable")}'
    ours = cachestatus.ours(value)
    assert ours is not None and ours.forwarded and not ours.hit
    assert ours.params["detail"] == "not-storable"
    assert cachestatus.ours("CDN; hit") is None
    assert cachestatus.ours("") is None


def test_every_documented_value_is_one_the_reader_reads_as_ours() -> None:
    documented = re.findall(r"^\| `(cacheward;[^`]*)` \|", GUARD_DOC.read_text(), re.M)
    assert cachestatus.HIT in documented and cachestatus.STORED in documented
    for value in documented:
        ours = cachestatus.ours(value)
        assert ours is not None, value
        assert ours.hit != ours.forwarded, value  # each says exactly one of the two
