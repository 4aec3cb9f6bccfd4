"""The entry codec refuses everything it did not sign for this key (invariant 6)."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cacheward.backends.base import Stats
from cacheward.backends.codec import EntryCodec
from cacheward.core.entry import Entry
from cacheward.core.secret import Secrets

OLD = "old-secret-0123456789abcdef"
NEW = "new-secret-0123456789abcdef"
KEY = "a" * 40
OTHER_KEY = "b" * 40

text = st.text(max_size=20)
entries = st.builds(
    Entry,
    status=st.integers(100, 599),
    headers=st.lists(st.tuples(text, text), max_size=4).map(tuple),
    body=st.binary(max_size=200),
    created=st.floats(0, 2e9),
    ttl=st.floats(0, 1e6),
    etag=text,
    scope=text,
    tags=st.lists(text, max_size=3).map(tuple),
    generation=st.lists(st.integers(0, 2**64 - 1), max_size=5).map(tuple),
)

codec = EntryCodec(Secrets(NEW))


@given(entries)
def test_round_trip(entry: Entry) -> None:
    assert codec.decode(KEY, codec.encode(KEY, entry)) == entry


@settings(max_examples=50)
@given(entries, st.data())
def test_any_single_byte_flip_is_refused(entry: Entry, data: st.DataObject) -> None:
    blob = bytearray(codec.encode(KEY, entry))
    i = data.draw(st.integers(0, len(blob) - 1))
    blob[i] ^= data.draw(st.integers(1, 255))
    stats = Stats()
    assert codec.decode(KEY, bytes(blob), stats) is None
    assert stats.rejected == 1


@settings(max_examples=50)
@given(entries, st.data())
def test_any_truncation_is_refused(entry: Entry, data: st.DataObject) -> None:
    blob = codec.encode(KEY, entry)
    n = data.draw(st.integers(0, len(blob) - 1))
    assert codec.decode(KEY, blob[:n]) is None


@given(entries)
def test_entry_copied_under_another_key_is_refused(entry: Entry) -> None:
    assert codec.decode(OTHER_KEY, codec.encode(KEY, entry)) is None


@given(entries)
def test_rotation(entry: Entry) -> None:
    old_blob = EntryCodec(Secrets(OLD)).encode(KEY, entry)
    new_blob = EntryCodec(Secrets([OLD, NEW])).encode(KEY, entry)
    assert EntryCodec(Secrets([OLD, NEW])).decode(KEY, old_blob) == entry
    assert EntryCodec(Secrets([OLD])).decode(KEY, new_blob) is None
    assert EntryCodec(Secrets([OLD, NEW])).decode(KEY, new_blob) == entry


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(blob: bytes) -> None:
    assert codec.decode(KEY, blob) is None


def test_wrong_version_and_foreign_values_are_counted_by_reason() -> None:
    entry = Entry(200, (), b"x", 1.0, 60.0, "e", "shared")
    blob = codec.encode(KEY, entry)
    stats = Stats()
    fresh = EntryCodec(Secrets(NEW))
    assert fresh.decode(KEY, blob[:2] + b"\x02" + blob[3:], stats) is None
    assert fresh.decode(KEY, b"\x80\x04\x95" + b"\0" * 40, stats) is None
    assert stats.extra == {"rejected_version": 1, "rejected_foreign": 1}


def test_refusals_are_logged_once_without_secret_or_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fresh = EntryCodec(Secrets(NEW))
    entry = Entry(200, (), b"top-secret-body", 1.0, 60.0, "e", "shared")
    blob = fresh.encode(KEY, entry)
    with caplog.at_level(logging.WARNING, logger="cacheward.backends"):
        for _ in range(3):
            assert fresh.decode(OTHER_KEY, blob) is None
    assert len(caplog.records) == 1
    assert NEW not in caplog.text and "top-secret-body" not in caplog.text


def test_non_finite_times_are_not_encoded() -> None:
    with pytest.raises(ValueError):
        codec.encode(KEY, Entry(200, (), b"", float("nan"), 1.0, "", "shared"))


def test_out_of_range_fields_are_not_encoded() -> None:
    with pytest.raises(ValueError):
        codec.encode(KEY, Entry(70000, (), b"", 1.0, 1.0, "", "shared"))


def test_memo_serves_only_the_exact_bytes_it_verified() -> None:
    fresh = EntryCodec(Secrets(NEW))
    entry = Entry(200, (), b"genuine", 1.0, 60.0, "e", "shared")
    blob = fresh.encode(KEY, entry)
    assert fresh.decode(KEY, blob) == entry
    assert fresh.decode(KEY, blob) == entry  # from the memo
    forged = blob.replace(b"genuine", b"Genuine")
    assert fresh.decode(KEY, forged) is None
    assert fresh.decode(OTHER_KEY, blob) is None  # the memo is per key


def test_memo_is_bounded() -> None:
    fresh = EntryCodec(Secrets(NEW), memo_bytes=10_000)
    for i in range(100):
        digest = f"{i:040}"
        blob = fresh.encode(digest, Entry(200, (), b"x" * 1000, 1.0, 60.0, "e", "shared"))
        assert fresh.decode(digest, blob) is not None
    assert fresh._memo_size <= 10_000 and len(fresh._memo) <= 5
