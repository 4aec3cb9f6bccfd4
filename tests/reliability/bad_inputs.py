"""The catalogue of bad inputs sent to the guard, and their outcomes.

``python -m tests.reliability.bad_inputs`` prints the Markdown table that
``docs/security-testing.md`` carries; a test checks that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.reliability.hostile import make_hostile

KEY_LIKE = "cw_aaaaaaaaaaaa_" + "A" * 38


@dataclass(frozen=True)
class BadInput:
    """One hostile request: what it is, and the statuses the guard may answer with."""

    what: str
    path: bytes = b"/echo"
    query: bytes = b""
    headers: tuple[tuple[str, bytes], ...] = ()
    key: str | None = "alice"
    #: The credential header is the good key with this transformation (see ``_key``).
    mangle: str = ""
    expect: int = 200


@dataclass(frozen=True)
class Outcome:
    case: BadInput
    status: int
    stored: bool
    exceptions: int


def _cases() -> list[BadInput]:
    long_value = b"v" * 9000
    many = b"&".join(b"p%d=1" % i for i in range(300))
    return [
        BadInput("baseline: valid key, plain query", query=b"a=1"),
        BadInput("query: invalid UTF-8 byte (raw 0xff)", query=b"a=\xff", expect=400),
        BadInput("query: invalid UTF-8 percent-encoded (%ff)", query=b"a=%ff", expect=400),
        BadInput("query: overlong UTF-8 encoding of '/' (%c0%af)", query=b"a=%c0%af", expect=400),
        BadInput("query: lone surrogate, CESU-8 (%ed%a0%80)", query=b"a=%ed%a0%80", expect=400),
        BadInput("query: '%' garbage (%zz, trailing %, %%)", query=b"a=%zz&b=%&c=%%"),
        BadInput("query: raw NUL byte", query=b"a=\x00b"),
        BadInput("query: percent-encoded NUL (%00)", query=b"a=%00"),
        BadInput("query: ';' and '&' mixed (a=1;b=2&c=3)", query=b"a=1;b=2&c=3"),
        BadInput("query: name without value, empty pairs (&&a&=&)", query=b"&&a&=&"),
        BadInput("query: duplicate name (a=1&a=2)", query=b"a=1&a=2", expect=400),
        BadInput("query: duplicate after decoding (a=1&%61=2)", query=b"a=1&%61=2", expect=400),
        BadInput("query: 300 parameters", query=many, expect=400),
        BadInput("query: 9,000-byte value", query=b"a=" + long_value, expect=400),
        BadInput("query: '+' vs '%20' vs '%2B'", query=b"a=x+y&b=x%20y&c=x%2By"),
        BadInput("query: '#' and '?' inside (a=1?b#c)", query=b"a=1?b#c"),
        BadInput("query: api_key= credential parameter", query=b"api_key=secret", expect=400),
        BadInput(
            "query: a key-shaped value under another name",
            query=b"q=" + KEY_LIKE.encode(),
            expect=400,
        ),
        BadInput(
            "query: tracking param read by the view (utm_source)", b"/tracked", b"utm_source=x"
        ),
        BadInput("path: dot segments (/echo/./a/../b)", path=b"/echo/./a/../b"),
        BadInput("path: traversal (/echo/../../etc/passwd)", path=b"/echo/../../etc/passwd"),
        BadInput("path: encoded traversal left encoded (%2e%2e%2f)", path=b"/echo/%2e%2e%2fx"),
        BadInput("path: invalid UTF-8 (0xff)", path=b"/echo/\xff"),
        BadInput("path: NUL byte", path=b"/echo/a\x00b"),
        BadInput("path: 64 KiB long", path=b"/echo/" + b"p" * 65536),
        BadInput("path: double slash (//echo)", path=b"//echo"),
        BadInput("path: unknown route", path=b"/nope", expect=404),
        BadInput("key: missing", key=None, expect=401),
        BadInput("key: bad checksum (last char changed)", mangle="checksum", expect=401),
        BadInput("key: truncated by one char", mangle="truncate", expect=401),
        BadInput("key: upper-cased", mangle="upper", expect=401),
        BadInput("key: overlong (4 KiB)", mangle="overlong", expect=401),
        BadInput("key: NUL appended", mangle="nul", expect=401),
        BadInput("key: latin-1 bytes (0xe9) in the value", mangle="latin1", expect=401),
        BadInput("key: surrounded by spaces", mangle="spaces"),
        BadInput("key: revoked", key="revoked", expect=401),
        BadInput("key: another principal's key id with this secret", mangle="swap", expect=401),
        BadInput("key: two X-API-Key headers, same key (merged)", mangle="dup_same", expect=401),
        BadInput("key: two X-API-Key headers, good then bad", mangle="dup_bad", expect=401),
        BadInput("key: X-API-Key and Bearer disagree", mangle="bearer_other", expect=400),
        BadInput("key: X-API-Key and Bearer agree", mangle="bearer_same"),
        BadInput("key: Bearer only, lower-case scheme", mangle="bearer_lower"),
        BadInput("key: 'Bearer' with no token", mangle="bearer_empty", expect=401),
        BadInput("key: Basic scheme carrying the key", mangle="basic", expect=401),
        BadInput(
            "header: 16 KiB Accept-Language (a vary header)",
            expect=400,
            path=b"/lang",
            headers=(("Accept-Language", b"x" * 16384),),
        ),
        BadInput(
            "header: NUL and 0xff in Accept-Language",
            path=b"/lang",
            headers=(("Accept-Language", b"fr\x00\xff"),),
        ),
        BadInput(
            "header: two Accept-Language headers (merged)",
            path=b"/lang",
            headers=(("Accept-Language", b"fr"), ("Accept-Language", b"de")),
        ),
        BadInput("fat GET: Content-Length 5", headers=(("Content-Length", b"5"),)),
        BadInput("fat GET: Content-Length garbage", headers=(("Content-Length", b"abc"),)),
        BadInput(
            "GET with Transfer-Encoding: chunked", headers=(("Transfer-Encoding", b"chunked"),)
        ),
        BadInput("method override header", headers=(("X-HTTP-Method-Override", b"DELETE"),)),
        BadInput(
            "X-Forwarded-Host: evil.example", headers=(("X-Forwarded-Host", b"evil.example"),)
        ),
    ]


CASES = _cases()


def _key_headers(
    case: BadInput, good: str, other: str
) -> tuple[str | None, list[tuple[str, bytes]]]:
    """The principal for ``Hostile.call`` and the extra credential headers of ``case``."""
    m = case.mangle
    if not m:
        return case.key, []
    raw = good.encode()
    swapped = other[: 3 + 12] + good[3 + 12 :]
    by_mangle: dict[str, list[tuple[str, bytes]]] = {
        "checksum": [("X-API-Key", raw[:-1] + (b"A" if raw[-1:] != b"A" else b"B"))],
        "truncate": [("X-API-Key", raw[:-1])],
        "upper": [("X-API-Key", raw.upper())],
        "overlong": [("X-API-Key", raw * 60)],
        "nul": [("X-API-Key", raw + b"\x00")],
        "latin1": [("X-API-Key", raw[:-1] + b"\xe9")],
        "spaces": [("X-API-Key", b"  " + raw + b"\t")],
        "swap": [("X-API-Key", swapped.encode())],
        "dup_same": [("X-API-Key", raw), ("X-API-Key", raw)],
        "dup_bad": [("X-API-Key", raw), ("X-API-Key", b"cw_nope")],
        "bearer_other": [("X-API-Key", raw), ("Authorization", b"Bearer " + other.encode())],
        "bearer_same": [("X-API-Key", raw), ("Authorization", b"Bearer " + raw)],
        "bearer_lower": [("Authorization", b"bearer " + raw)],
        "bearer_empty": [("Authorization", b"Bearer")],
        "basic": [("Authorization", b"Basic " + raw)],
    }
    return None, by_mangle[m]


def run_case(case: BadInput) -> Outcome:
    """Send ``case`` to a fresh hostile app and record what happened."""
    hostile = make_hostile()
    key, extra = _key_headers(case, hostile.alice, hostile.bob)
    status, _, _ = hostile.call(case.path, case.query, (*extra, *case.headers), key=key)
    return Outcome(case, status, len(hostile.backend) > 0, len(hostile.exceptions))


def table(outcomes: list[Outcome]) -> str:
    """The Markdown table of ``outcomes``."""
    lines = [
        "| # | input | status | stored |",
        "|---|---|---|---|",
    ]
    for i, o in enumerate(outcomes, 1):
        lines.append(f"| {i} | {o.case.what} | {o.status} | {'yes' if o.stored else 'no'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table([run_case(c) for c in CASES]), end="")
