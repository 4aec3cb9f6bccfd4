"""The key format: round trip, and typos caught by the checksum before any lookup."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cacheward.keys import format as key_format
from cacheward.keys import redact

KEY_CHARS = string.ascii_letters + string.digits + "_"


def test_generate_parse_round_trip() -> None:
    plaintext, parts = key_format.generate()
    assert len(plaintext) == key_format.KEY_LENGTH
    assert plaintext.startswith(f"cw_{parts.id}_{parts.secret}")
    assert key_format.parse(plaintext) == parts
    assert key_format.looks_like_key(plaintext)


def test_generate_keeps_a_given_id() -> None:
    plaintext, parts = key_format.generate("abcdefgh2345")
    assert parts.id == "abcdefgh2345"
    assert key_format.parse(plaintext) == parts


def test_keys_are_unique() -> None:
    assert len({key_format.generate()[0] for _ in range(200)}) == 200


@given(st.data())
def test_every_single_character_substitution_is_refused(data: st.DataObject) -> None:
    plaintext, _ = key_format.generate()
    i = data.draw(st.integers(0, len(plaintext) - 1), label="position")
    c = data.draw(st.sampled_from(KEY_CHARS).filter(lambda c: c != plaintext[i]), label="char")
    typo = plaintext[:i] + c + plaintext[i + 1 :]
    assert key_format.parse(typo) is None


def test_every_single_character_substitution_exhaustively() -> None:
    plaintext, _ = key_format.generate()
    for i, original in enumerate(plaintext):
        for c in KEY_CHARS:
            if c != original:
                assert key_format.parse(plaintext[:i] + c + plaintext[i + 1 :]) is None, i


@given(st.data())
def test_adjacent_transpositions_are_refused(data: st.DataObject) -> None:
    plaintext, _ = key_format.generate()
    i = data.draw(st.integers(0, len(plaintext) - 2))
    swapped = plaintext[:i] + plaintext[i + 1] + plaintext[i] + plaintext[i + 2 :]
    if swapped != plaintext:
        assert key_format.parse(swapped) is None


@given(st.integers(0, key_format.KEY_LENGTH - 1))
def test_truncated_keys_are_refused(length: int) -> None:
    plaintext, _ = key_format.generate()
    assert key_format.parse(plaintext[:length]) is None


@given(st.text(min_size=1, max_size=20))
def test_overlong_keys_are_refused(extra: str) -> None:
    plaintext, _ = key_format.generate()
    assert key_format.parse(plaintext + extra) is None
    assert key_format.parse(extra + plaintext) is None


@given(st.text(max_size=200))
def test_arbitrary_text_is_refused(text: str) -> None:
    assert key_format.parse(text) is None


@pytest.mark.parametrize(
    "foreign",
    [
        "",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "Bearer cw_abcdefgh2345_xxxx",
        "CW_ABCDEFGH2345_" + "a" * 38,
        "cw_abcdefgh2345_" + "a" * 38,  # right shape, wrong checksum
        "cw_abcdefgh2345_" + "é" * 38,
    ],
)
def test_foreign_keys_are_refused(foreign: str) -> None:
    assert key_format.parse(foreign) is None


def test_redact_never_shows_the_secret() -> None:
    plaintext, parts = key_format.generate()
    assert redact(plaintext) == f"cw_{parts.id}_…"
    assert parts.secret not in redact(plaintext)
    assert redact(plaintext[:-1]) == "cw_…"
    assert redact("hunter2") == "…"
