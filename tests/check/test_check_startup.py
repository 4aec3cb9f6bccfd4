"""``cacheward check`` starts without importing the web stack that ``scan``/``demo`` need."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"

#: Top-level packages ``cacheward check`` must not import: it reads source with ast.
HEAVY = ("flask", "werkzeug", "jinja2", "httpx", "rich", "yaml")

PROBE = """
import json, sys
from cacheward.cli import main
try:
    main(["check", sys.argv[1], "--fail-on", "critical"])
except SystemExit as exc:
    code = exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2].split(",")))
sys.stderr.write(json.dumps({"code": code, "heavy": heavy}))
"""


def test_check_imports_no_web_stack() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(FIXTURES / "httpauth_documented"), ",".join(HEAVY)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] == 0, done.stdout
    assert result["heavy"] == []
    assert "cache-outside-auth" in done.stdout


def test_other_commands_still_resolve() -> None:
    from click.testing import CliRunner

    from cacheward.cli import main

    out = CliRunner().invoke(main, ["--help"]).output
    assert all(name in out for name in ("scan", "check", "demo"))
    assert CliRunner().invoke(main, ["scan", "--help"]).exit_code == 0
