"""Coverage-guided fuzzing (atheris) of what parses hostile input.

Run as ``python -m tests.reliability.fuzz [libFuzzer flags]``, for example
``-max_total_time=600``; ``test_fuzz.py`` runs it for a bounded time. One input is split
by :class:`atheris.FuzzedDataProvider` into a target number and that target's data:

0. query canonicalization: refused with ``MalformedQuery``, or parsed as Werkzeug does;
1. key parsing: never raises; accepts only well-formed keys;
2. header handling (``credential_from``): returns a header's value, ``None``, or raises
   a 4xx ``BadRequestInput``;
3. the whole guard through WSGI: no 500, no escaped exception, nothing stored for a
   refused request, a 200 only for the valid key;
4. the entry codec, when the Redis backend provides one: never raises anything but its
   own refusal, and never returns an entry for bytes it did not sign.

A finding makes libFuzzer exit non-zero and write the input to ``crash-*``.
"""

from __future__ import annotations

import sys
from typing import Any

import atheris

with atheris.instrument_imports(include=["cacheward"]):
    from tests.reliability.hostile import (
        make_hostile,
        raw_environ,
        werkzeug_args,
        werkzeug_fails_too,
    )
    from werkzeug.datastructures import MultiDict

    from cacheward.core.entry import Entry
    from cacheward.core.query import parse_query
    from cacheward.core.secret import Secrets
    from cacheward.errors import BadRequestInput, MalformedQuery
    from cacheward.flask.auth import credential_from
    from cacheward.keys import format as key_format

    try:
        from cacheward.backends.codec import EntryCodec
    except ImportError:  # the redis branch has not landed
        EntryCodec = None

HOSTILE = make_hostile()
HOSTILE.app.logger.disabled = True  # escaped exceptions are caught by the signal instead
STATE = HOSTILE.ward.state(HOSTILE.app)
TARGETS = 5 if EntryCodec is not None else 4
CODEC = EntryCodec(Secrets("fuzz-secret-0123456789abcdef")) if EntryCodec is not None else None
GENUINE = Entry(200, (("Content-Type", "application/json"),), b'{"principal":"alice"}', 1e9, 60.0,
                '"e"', "principal:x", ("t",), (1, 2, 3))  # fmt: skip


def fuzz_query(fdp: Any) -> None:
    query = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200))
    try:
        pairs = parse_query(query.decode("latin-1"))
    except MalformedQuery:
        return
    assert MultiDict(pairs).to_dict(flat=False) == werkzeug_args(query), query


def fuzz_key(fdp: Any) -> None:
    text = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 80))
    if fdp.ConsumeBool():
        text = "cw_" + text
    parsed = key_format.parse(text)
    if parsed is not None:
        assert text.isascii() and len(text) == key_format.KEY_LENGTH, text
    key_format.redact(text)


def fuzz_headers(fdp: Any) -> None:
    api_key = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300))
    authorization = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300))
    query = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 100))
    environ = raw_environ(b"/", query, [("X-API-Key", api_key), ("Authorization", authorization)])
    try:
        credential = credential_from(environ, STATE)
    except BadRequestInput as e:
        assert 400 <= e.code < 500
        return
    if credential is not None:
        assert credential in environ["HTTP_X_API_KEY"] + environ["HTTP_AUTHORIZATION"]


def fuzz_guard(fdp: Any) -> None:
    path = b"/echo/" + fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 60))
    query = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 120))
    language = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40))
    good = fdp.ConsumeBool()
    headers = [("Accept-Language", language)]
    if not good:
        headers.append(("X-API-Key", fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 80))))
    before = len(HOSTILE.backend)
    status, _, _ = HOSTILE.call(path, query, headers, key="alice" if good else None)
    if good:
        headers.insert(0, ("X-API-Key", HOSTILE.alice.encode()))
    if (HOSTILE.exceptions or status == 500) and werkzeug_fails_too(path, query, headers):
        HOSTILE.exceptions.clear()  # plain Flask fails alike: not the guard's
        return
    assert not HOSTILE.exceptions, HOSTILE.exceptions
    assert status != 500, (path, query)
    if status >= 400:
        assert len(HOSTILE.backend) == before, (path, query)
    if status == 200:
        assert good, (path, query)
    if len(HOSTILE.backend) > 1000:
        HOSTILE.ward.purge(app=HOSTILE.app)


def fuzz_codec(fdp: Any) -> None:
    """Only the exact bytes this app signed under this key decode, memo or not."""
    assert CODEC is not None
    valid = CODEC.encode("k", GENUINE)
    how = fdp.ConsumeIntInRange(0, 3)
    if how == 0:
        data = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 400))
    elif how == 1:  # edit bytes of a genuine value
        data = bytearray(valid)
        for _ in range(fdp.ConsumeIntInRange(1, 4)):
            data[fdp.ConsumeIntInRange(0, len(data) - 1)] = fdp.ConsumeIntInRange(0, 255)
        data = bytes(data)
    elif how == 2:  # cut or extend it
        cut = fdp.ConsumeIntInRange(0, len(valid))
        data = valid[:cut] + fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40))
    else:  # the genuine value under another key
        assert CODEC.decode(fdp.ConsumeBytes(20).hex() + "x", valid) is None  # digests are hex
        return
    decoded = CODEC.decode("k", data)
    assert decoded is None or (data == valid and decoded == GENUINE), data


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    target = fdp.ConsumeIntInRange(0, TARGETS - 1)
    (fuzz_query, fuzz_key, fuzz_headers, fuzz_guard, fuzz_codec)[target](fdp)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
