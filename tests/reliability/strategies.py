"""Hypothesis strategies for hostile query strings, paths and headers."""

from __future__ import annotations

from hypothesis import strategies as st

#: Characters that matter to a query parser, plus some that matter to an encoder.
_SPECIAL = "&=;+% #?/\x00\t\r\nAaé€😀\ufeff\u0130"
_chars = st.one_of(st.sampled_from(_SPECIAL), st.characters(codec="utf-8"))
#: Names and values from a tiny alphabet collide often: pairs of queries then differ
#: only a little, which is where a canonicalization bug hides.
_tiny = st.text(alphabet="ab =&+%", max_size=3)
names = st.one_of(_tiny, st.text(alphabet=_chars, max_size=5))
values = st.one_of(_tiny, st.text(alphabet=_chars, max_size=8))
Pairs = list[tuple[str, str]]
pair_lists = st.lists(st.tuples(names, values), max_size=6)

#: Byte soup for queries that no encoder produced.
_tokens = st.sampled_from(
    [
        b"&",
        b";",
        b"=",
        b"+",
        b"%",
        b"%2",
        b"%zz",
        b"%00",
        b"%ff",
        b"%c3",
        b"%a9",
        b"%C3%A9",
        b"%26",
        b"%3D",
        b"%3B",
        b"%2B",
        b"%20",
        b"\xff",
        b"\xc3\xa9",
        b"\x00",
        b"a",
        b"b",
        b"api_key",
        b"utm_x",
        b"cw_",
        b"#",
        b"?",
        b" ",
        b"\t",
    ]  # fmt: skip
)
raw_queries = st.one_of(
    st.binary(max_size=64),
    st.lists(_tokens, max_size=24).map(b"".join),
)
raw_paths = st.one_of(
    st.lists(
        st.sampled_from(
            [
                b"/",
                b".",
                b"..",
                b"%2e",
                b"%2f",
                b"a",
                b"echo",
                b"\x00",
                b"\xff",
                b"\xc3\xa9",
                b";",
                b"?",
                b"%",
                b"//",
                b"\\",
                b"~",
            ]  # fmt: skip
        ),
        max_size=12,
    ).map(lambda parts: b"/echo/" + b"".join(parts)),
    st.binary(max_size=40).map(lambda b: b"/echo/" + b),
)
header_values = st.one_of(
    st.binary(max_size=80),
    st.sampled_from([b"", b" ", b"Bearer", b"Bearer ", b"bearer  x", b"cw_", b"\x00", b"a, b"]),
)


@st.composite
def encode(draw: st.DrawFn, text: str) -> bytes:
    """``text`` as a client may put it in a query: each character literal, ``%XX``,
    ``%xx`` or (a space) ``+``; ``&``, ``=``, ``%``, ``+`` and ``#`` are always escaped."""
    out = bytearray()
    for ch in text:
        raw = ch.encode("utf-8")
        how = draw(st.sampled_from(("literal", "upper", "lower", "plus")))
        if ch == " " and how == "plus":
            out += b"+"
        elif how == "literal" and ch not in "&=%+#":
            out += raw
        elif how == "lower":
            out += b"".join(b"%%%02x" % b for b in raw)
        else:
            out += b"".join(b"%%%02X" % b for b in raw)
    return bytes(out)


@st.composite
def query_for(draw: st.DrawFn, pairs: Pairs) -> bytes:
    """One of the many query strings whose parse is ``pairs``."""
    parts = []
    for name, value in pairs:
        n = draw(encode(name))
        if not value and draw(st.booleans()):
            parts.append(n)  # "a" parses as ("a", "")
        else:
            parts.append(n + b"=" + draw(encode(value)))
        if draw(st.integers(0, 9)) == 0:
            parts.append(b"")  # an empty segment ("&&") is skipped by the parser
    return b"&".join(parts)


@st.composite
def query_pairs(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """Two queries that parse the same, or nearly the same, or differently."""
    first = draw(pair_lists)
    how = draw(st.sampled_from(("same", "permuted", "mutated", "independent")))
    if how == "same":
        second = list(first)
    elif how == "permuted":
        second = list(draw(st.permutations(first)))
    elif how == "mutated" and first:
        i = draw(st.integers(0, len(first) - 1))
        second = list(first)
        name, value = second[i]
        if draw(st.booleans()):
            second[i] = (name, draw(values))
        else:
            second[i] = (draw(names), value)
    else:
        second = draw(pair_lists)
    return draw(query_for(first)), draw(query_for(second))
