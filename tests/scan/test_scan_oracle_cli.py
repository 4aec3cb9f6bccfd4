"""``cacheward scan --identity / --whoami / --wait-ttl`` end to end, on a loopback port."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from tests.targets import oracle
from tests.targets.kit import ALICE, BOB, EVE, RAW_KEYS

from cacheward.cli import main

KEYS = ["--key", f"alice={ALICE}", "--key", f"bob={BOB}", "--key", f"eve={EVE}", "--low-key", "eve"]


def _run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["scan", *args, "--rate", "0", "--format", "json", *KEYS])
    return res.exit_code, res.output


@pytest.mark.parametrize(
    "known", [["--identity", "alice=alice@example.test"], ["--whoami", oracle.WHOAMI]]
)
def test_what_the_user_knows_proves_a_path_keyed_leak(
    known: list[str], serve: Callable[[object], str]
) -> None:
    base = serve(oracle.create_app())
    code, out = _run(base + "/o/me", *known)
    assert code == 1, out
    report = json.loads(out[out.index("{") :])
    assert {"cross-key-leak", "anonymous-cache-leak"} <= {f["id"] for f in report["findings"]}
    assert "alice@example.test" not in out  # markers are redacted
    assert not any(k in out or k[-12:] in out for k in RAW_KEYS)


@pytest.mark.parametrize(
    "bad",
    [
        ["--identity", "mallory=m@example.test"],  # no such --key
        ["--identity", "alice"],
        ["--identity", "alice=x"],
        ["--whoami", "ftp://127.0.0.1/me"],
        ["--wait-ttl", "1000"],
    ],
)
def test_bad_oracle_options_are_usage_errors(bad: list[str]) -> None:
    code, out = _run("http://127.0.0.1:9/o/me", *bad)
    assert code == 2, out
    assert "Traceback" not in out
