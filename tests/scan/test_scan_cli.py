"""``cacheward scan`` end to end: formats, exit codes, and no raw key in any output."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.targets.kit import ALICE, BOB, EVE, RAW_KEYS

from cacheward.cli import main

PATHS = ["/v/orders", "/v/dashboard", "/v/search", "/v/links", "/v/public-cc"]


def _args(base: str, *extra: str) -> list[str]:
    return ["scan", *(base + p for p in PATHS), "--rate", "0", *extra]


def _keys() -> list[str]:
    return [
        "--key",
        f"alice={ALICE}",
        "--key",
        f"bob={BOB}",
        "--key",
        f"eve={EVE}",
        "--low-key",
        "eve",
    ]


def _assert_no_raw_key(*texts: str) -> None:
    for text in texts:
        for key in RAW_KEYS:
            assert key not in text
            assert key[-12:] not in text


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_every_format_is_redacted_and_fails_on_findings(
    runner: CliRunner,
    serve: Callable[[object], str],
    vulnerable_app: object,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = serve(vulnerable_app)
    outputs: list[str] = []
    caplog.set_level(logging.DEBUG)
    for fmt in ("text", "json", "sarif"):
        out = tmp_path / f"report.{fmt}"
        res = runner.invoke(
            main, _args(base, *_keys(), "-v", "--format", fmt, "--output", str(out))
        )
        assert res.exit_code == 1, res.output
        outputs += [res.stdout, res.stderr, out.read_text(encoding="utf-8")]
    res = runner.invoke(main, _args(base, *_keys(), "--format", "json"))
    assert res.exit_code == 1
    ours = [r for r in caplog.records if not r.name.startswith("werkzeug")]  # not the target's
    outputs += [res.stdout, res.stderr, "\n".join(r.getMessage() for r in ours)]
    _assert_no_raw_key(*outputs)
    doc = json.loads(res.stdout)
    assert doc["tool"]["name"] == "cacheward"
    assert set(doc["stats"]) >= {"requests", "duration_s"}
    ids = {f["id"] for f in doc["findings"]}
    assert {"anonymous-cache-leak", "error-cached", "key-in-url", "unkeyed-header"} <= ids
    for f in doc["findings"]:
        assert set(f) >= {"id", "severity", "method", "url", "title", "evidence", "remediation"}
    assert "alice=cw_…3f" in json.dumps(doc["findings"], ensure_ascii=False)
    sarif = json.loads((tmp_path / "report.sarif").read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    assert "GET " in outputs[1] or "requests" in outputs[1]  # -v or progress lines on stderr


def test_keys_from_env_and_fail_on(
    runner: CliRunner, serve: Callable[[object], str], vulnerable_app: object
) -> None:
    base = serve(vulnerable_app)
    env = {"CACHEWARD_SCAN_KEYS": f"alice={ALICE},bob={BOB}"}
    res = runner.invoke(
        main, ["scan", base + "/v/public-cc", "--rate", "0", "--fail-on", "critical"], env=env
    )
    assert res.exit_code == 0, res.output  # a HIGH finding is below --fail-on critical
    assert "cacheable-authenticated" in res.stdout
    _assert_no_raw_key(res.stdout, res.stderr)


def test_fixed_twin_exits_clean(
    runner: CliRunner, serve: Callable[[object], str], fixed_app: object
) -> None:
    base = serve(fixed_app)
    res = runner.invoke(main, _args(base, *_keys(), "--format", "json"))
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["findings"] == []


@pytest.mark.parametrize(
    "argv",
    [
        [
            "scan",
            "http://127.0.0.1:9/x",
            "--key",
            f"a={ALICE}",
            "--key-cookie",
            "s",
            "--key-bearer",
        ],
        ["scan", "http://127.0.0.1:9/x", "--key", f"a={ALICE}", "--path-param", "id=1"],
        ["scan", "http://127.0.0.1:9/x", "--key", f"a={ALICE}", "--fail-on", "severe"],
        ["scan", "not-a-url", "--key", f"a={ALICE}"],
        ["scan", "http://127.0.0.1:9/x", "--key", f"{ALICE}"],  # not NAME=KEY
        ["scan", "http://127.0.0.1:9/x", "--key", f"a={ALICE}", "--low-key", "zed"],
        ["scan", "http://127.0.0.1:9/x", "--key", f"a={ALICE}", "--key-bearer", "--key-query", "k"],
        ["scan", "http://127.0.0.1:9/x", "--key", f"a={ALICE}", "--format", "xml"],
    ],
)
def test_usage_errors_exit_2_without_the_key(runner: CliRunner, argv: list[str]) -> None:
    res = runner.invoke(main, argv, env={"CACHEWARD_SCAN_KEYS": ""})
    assert res.exit_code == 2, res.output
    _assert_no_raw_key(res.stdout, res.stderr)


def test_unreachable_target_is_an_error_not_clean(runner: CliRunner) -> None:
    res = runner.invoke(
        main,
        [
            "scan",
            "http://127.0.0.1:9/x",
            "--key",
            f"a={ALICE}",
            "--timeout",
            "1",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 2, res.output
    assert any("not scanned" in n for n in json.loads(res.stdout)["notes"])
    assert "no endpoint could be scanned" in res.stderr
    _assert_no_raw_key(res.stdout, res.stderr)


def test_openapi_spec_drives_the_endpoints(
    runner: CliRunner, serve: Callable[[object], str], vulnerable_app: object, tmp_path: Path
) -> None:
    base = serve(vulnerable_app)
    spec = tmp_path / "api.yaml"
    spec.write_text(
        "openapi: 3.0.3\n"
        "paths:\n"
        "  /v/{page}:\n"
        "    get:\n"
        "      parameters:\n"
        "        - {name: page, in: path, required: true, schema: {type: string, example: cors}}\n"
        "  /v/campaign:\n"
        "    get: {}\n"
        "    post: {}\n"
        "  /v/{nope}/x:\n"
        "    get: {}\n",
        encoding="utf-8",
    )
    res = runner.invoke(
        main, ["scan", base, "--openapi", str(spec), "--rate", "0", *_keys(), "--format", "json"]
    )
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert {(f["url"].removeprefix(base), f["id"]) for f in doc["findings"]} == {
        ("/v/cors", "unkeyed-header"),
        ("/v/campaign", "unkeyed-param"),
    }
    assert any("/v/{nope}/x" in n for n in doc["notes"])
    _assert_no_raw_key(res.stdout, res.stderr)
