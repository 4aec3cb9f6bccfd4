"""``cacheward demo`` end to end: in-process through click, and as a process on Ctrl-C."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from cacheward.cli import main
from cacheward.core.finding import Report
from cacheward.demo.runner import Demo, DemoResult

#: What the common way must show at least (the issue's list).
EXPECTED = {"cross-key-leak", "anonymous-cache-leak", "unkeyed-header", "cacheable-authenticated"}
FULL_KEY = re.compile(r"cw_[a-z2-7]{12}_[0-9A-Za-z]{38}")


@dataclass
class Run:
    exit_code: int
    output: str
    html: str
    result: DemoResult
    keys: list[str]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One in-process run of ``cacheward demo``, with the result and keys spied on."""
    seen: dict[str, Any] = {}
    real_start, real_scan = Demo.start, Demo.scan

    def start(self: Demo) -> Demo:
        out = real_start(self)
        seen["keys"] = [c.key for c in self.creds]
        return out

    def scan(self: Demo, progress: Any = None) -> DemoResult:
        seen["result"] = real_scan(self, progress)
        return seen["result"]  # type: ignore[no-any-return]

    mp = pytest.MonkeyPatch()
    mp.setattr(Demo, "start", start)
    mp.setattr(Demo, "scan", scan)
    out = tmp_path_factory.mktemp("demo") / "report.html"
    try:
        res = CliRunner().invoke(main, ["demo", "--output", str(out)])
    finally:
        mp.undo()
    return Run(
        res.exit_code, res.output, out.read_text(encoding="utf-8"), seen["result"], seen["keys"]
    )


def test_demo_exits_zero_with_findings_only_on_the_common_way(demo_run: Run) -> None:
    assert demo_run.exit_code == 0, demo_run.output
    ids = {f.id for f in demo_run.result.vulnerable.findings}
    assert EXPECTED <= ids
    assert ids & {"error-cached", "auth-after-cache"}
    assert demo_run.result.guarded.findings == ()
    assert not demo_run.result.guarded.notes  # the buster worked: a clean report means clean
    for report in (demo_run.result.vulnerable, demo_run.result.guarded):
        assert report.stats["endpoints_scanned"] == report.stats["endpoints"] == 4


def test_demo_prints_both_sides_and_explains_each_finding(demo_run: Run) -> None:
    for check in EXPECTED:
        assert re.search(rf"^\s*{check}: ", demo_run.output, re.MULTILINE), check
        assert re.search(rf"^{check}\s+\w+ on \d endpoints?\s+none$", demo_run.output, re.M)
    assert "built the common way" in demo_run.output
    assert "guarded by cacheward" in demo_run.output
    assert "0 findings" in demo_run.output
    assert "fix: " in demo_run.output


def test_demo_never_prints_a_raw_key(demo_run: Run) -> None:
    assert len(demo_run.keys) == 3
    for key in demo_run.keys:
        assert key not in demo_run.output
        assert key not in demo_run.html
    assert not FULL_KEY.search(demo_run.output)
    assert not FULL_KEY.search(demo_run.html)
    assert "cw_…" in demo_run.html  # masked keys are shown


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.checks: set[str] = set()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        check = dict(attrs).get("data-check")
        if check:
            self.checks.add(check)


def test_demo_writes_a_self_contained_html_report(demo_run: Run) -> None:
    parser = _Collect()
    parser.feed(demo_run.html)
    parser.close()
    assert EXPECTED <= parser.checks
    assert "link" not in parser.tags and "img" not in parser.tags
    assert "src=" not in demo_run.html
    assert "cacheward demo report" in demo_run.html
    assert "guarded by cacheward" in demo_run.html and "had 0 findings" in demo_run.html


def test_demo_exits_two_when_the_guarded_api_is_not_clean(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = Report("scan", "0", (), (), {"endpoints_scanned": 4})
    monkeypatch.setattr(Demo, "scan", lambda self, progress=None: DemoResult(empty, empty))
    res = CliRunner().invoke(main, ["demo", "--output", str(tmp_path / "x.html")])
    assert res.exit_code == 2
    assert "did not show what it should" in res.output


def _closed(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_demo_close_stops_servers_and_removes_its_directory() -> None:
    demo = Demo().start()
    ports = [s.port for s in demo.servers.values()]
    workdir = demo.workdir
    assert workdir is not None and workdir.exists()
    assert httpx.get(demo.servers["guarded"].base + "/catalog").status_code == 401
    demo.close()
    demo.close()  # idempotent
    assert all(_closed(p) for p in ports)
    assert not workdir.exists()


class _Process:
    """``cacheward demo`` in a child process, its merged output read by a thread."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.tmp = cwd / "tmp"
        self.tmp.mkdir()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(self.tmp)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from cacheward.cli import main; main()", "demo", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.text = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)

    def wait_for(self, marker: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while marker not in self.text:
            self.text += self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
        return self.text

    def ports(self) -> list[int]:
        return sorted({int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)", self.text)})

    def interrupt(self, signum: int = signal.SIGINT) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=15)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_stops_everything_on_ctrl_c(tmp_path: Path, signum: int) -> None:
    demo = _Process(tmp_path, "--serve")
    try:
        text = demo.wait_for("until Ctrl-C")
        ports = demo.ports()
        assert len(ports) == 2, text
        assert "curl" in text and FULL_KEY.search(text)  # --serve shows the demo keys
        guarded = re.search(r"guarded by cacheward: (http://127\.0\.0\.1:\d+)", text)
        assert guarded is not None
        assert httpx.get(guarded.group(1) + "/catalog").status_code == 401  # still serving
        assert demo.interrupt(signum) == 0
    finally:
        demo.close()
    assert all(_closed(p) for p in ports)
    assert (tmp_path / "cacheward-demo.html").exists()
    assert list(demo.tmp.iterdir()) == []  # the key store's directory is gone


def test_ctrl_c_during_the_scan_stops_everything(tmp_path: Path) -> None:
    demo = _Process(tmp_path)
    try:
        demo.wait_for("scanning both APIs")
        ports = demo.ports()
        assert len(ports) == 2, demo.text
        assert demo.interrupt() == 2
    finally:
        demo.close()
    assert all(_closed(p) for p in ports)
    assert list(demo.tmp.iterdir()) == []
