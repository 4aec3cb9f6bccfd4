"""``cacheward demo``: the bug and the cure, in one command.

Starts the demo's two APIs on free loopback ports, scans both with the real scanner,
prints the two reports side by side with what each finding means and how to fix it, and
writes a self-contained HTML report. Exit codes: 0 when the demo showed what it should
(the common way has findings, the guarded API none), 2 otherwise.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from ..core.finding import Finding, Report
from ..report.html import render_html
from ..scan import Redactor
from ..scan.progress import Lines, Progress
from .apps import PATHS
from .runner import Demo, DemoResult

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

#: What each finding means for the demo API, and its fix, in one line each.
EXPLAIN: dict[str, tuple[str, str]] = {
    "cross-key-leak": (
        "Bob asked for his invoices and got Alice's: the cache is keyed on the URL only.",
        "Key entries by principal: @ward.cached() below @ward.protected() (scope='principal').",
    ),
    "anonymous-cache-leak": (
        "A request with no key at all got Alice's cached response.",
        "Authenticate before the lookup: @ward.protected() above @ward.cached().",
    ),
    "auth-after-cache": (
        "A key that is refused (403) got a cached 200: the cache answers before authorization.",
        "Authorize before the lookup: @ward.protected(scope, authorize=...) runs first.",
    ),
    "error-cached": (
        "An anonymous 401 was stored and then served to Alice's valid key (denial of service).",
        "Never store errors: cacheward stores only safe 2xx responses.",
    ),
    "unkeyed-header": (
        "X-Forwarded-Host (trusted by ProxyFix(x_host=1)) changed the links, and the poisoned"
        " response was cached for everyone.",
        "Trust X-Forwarded-Host only from a real proxy and key what the view reads;"
        " cacheward refuses to store a response that read an unkeyed input.",
    ),
    "unkeyed-param": (
        "A query parameter the cache leaves out of its key changed the response.",
        "Key every parameter the view reads (cacheward's canonical query does).",
    ),
    "param-cloaking": (
        "A parameter hidden behind ';' reached the app but not the cache key.",
        "Parse the query on '&' only, the same way in the cache and the app.",
    ),
    "fat-get": (
        "A body sent with a GET changed a response cached under the bare URL.",
        "Ignore bodies on GET (read request.args, never request.values or get_json()).",
    ),
    "method-override": (
        "X-HTTP-Method-Override turned a GET into another method and the answer was cached.",
        "Do not honour override headers on GET, or key the cache on them.",
    ),
    "cache-deception": (
        "A path like /profile/x.css returned the private body and a static rule cached it.",
        "Answer unknown suffixes with 404 and send Cache-Control: private.",
    ),
    "key-in-url": (
        "The API accepts ?api_key=, so keys end up in logs, Referer headers and cache keys.",
        "Accept keys in a header only; cacheward refuses query keys with 400 by default.",
    ),
    "cacheable-authenticated": (
        "Authenticated responses say Cache-Control: public, so a CDN or nginx may share them.",
        "Send private (cacheward does on every authenticated response) or Vary: X-API-Key.",
    ),
    "set-cookie-cacheable": (
        "A response that sets a cookie may be stored by a shared cache.",
        "Send private or no-store with Set-Cookie; cacheward never stores such responses.",
    ),
}
_SIDES = (("vulnerable", "built the common way"), ("guarded", "guarded by cacheward"))


class _Step:
    """Progress of one API's scan, as a task of a shared rich bar or as plain lines."""

    def __init__(self, label: str, bar: RichProgress | None, stream: IO[str]) -> None:
        self._label = label
        self._bar = bar
        self._task: TaskID | None = None
        self._lines = Lines(stream)

    def start(self, total: int) -> None:
        if self._bar is None:
            self._lines.start(total)
        else:
            self._task = self._bar.add_task(self._label, total=total)

    def advance(self, label: str, requests: int) -> None:
        if self._bar is None:
            self._lines.advance(f"{self._label}: {label}", requests)
        elif self._task is not None:
            self._bar.update(self._task, advance=1)

    def close(self) -> None:
        if self._bar is None:
            self._lines.close()


def _by_check(report: Report) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in sorted(report.findings, key=lambda f: (-f.severity.rank, f.id)):
        out.setdefault(f.id, []).append(f)
    return out


def _cell(findings: list[Finding]) -> str:
    if not findings:
        return "none"
    worst = max(f.severity for f in findings)
    n = len({f.url for f in findings})
    return f"{worst.value.upper()} on {n} endpoint{'' if n == 1 else 's'}"


def _total(report: Report) -> str:
    n = len(report.findings)
    return f"{n} finding{'' if n == 1 else 's'}, {report.stats.get('requests', 0)} requests"


def _rows(result: DemoResult) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Table rows (check, common way, guarded) and the check ids in order of severity."""
    vuln, guard = _by_check(result.vulnerable), _by_check(result.guarded)
    ids = list(dict.fromkeys([*vuln, *guard]))
    rows = [(i, _cell(vuln.get(i, [])), _cell(guard.get(i, []))) for i in ids]
    rows.append(("total", _total(result.vulnerable), _total(result.guarded)))
    return rows, ids


def _plain(result: DemoResult, urls: dict[str, str]) -> str:
    rows, ids = _rows(result)
    head = ("check", *(f"{title} ({urls[name]})" for name, title in _SIDES))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += ["", "What each finding means, and the fix:"]
    for i in ids:
        what, fix = EXPLAIN.get(i, ("(no explanation)", "see docs/checks.md"))
        lines += [f"  {i}: {what}", f"      fix: {fix}"]
    return "\n".join(lines) + "\n"


def _rich(result: DemoResult, urls: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    rows, ids = _rows(result)
    table = Table(title="cacheward scan, side by side", show_lines=False)
    table.add_column("check", style="bold")
    for name, title in _SIDES:
        table.add_column(f"{title}\n{urls[name]}")
    for check, left, right in rows:
        table.add_row(
            check,
            f"[{'green' if left == 'none' else 'red'}]{left}[/]",
            f"[{'green' if right == 'none' else 'red'}]{right}[/]",
            end_section=check == rows[-2][0],
        )
    console.print(table)
    explained = Table(title="What each finding means, and the fix", show_header=True)
    explained.add_column("check", style="bold")
    explained.add_column("what happened")
    explained.add_column("fix", style="green")
    for i in ids:
        what, fix = EXPLAIN.get(i, ("(no explanation)", "see docs/checks.md"))
        explained.add_row(i, what, fix)
    console.print(explained)


def html_report(result: DemoResult, urls: dict[str, str]) -> str:
    """The vulnerable API's report as one HTML page, with the comparison in its notes."""
    guard = result.guarded
    summary = [
        f"This report is the API built the common way ({urls['vulnerable']}): Flask-Caching"
        " @cache.cached above an X-API-Key decorator, Cache-Control: public,"
        " ProxyFix(x_host=1), url_for(_external=True) links.",
        f"Comparison: the same API guarded by cacheward ({urls['guarded']}) had"
        f" {len(guard.findings)} findings on {guard.stats.get('endpoints_scanned', 0)}"
        f" endpoints in {guard.stats.get('requests', 0)} requests.",
        *(f"Guarded API finding: {f.id} at {f.where}" for f in guard.findings),
    ]
    for i in _by_check(result.vulnerable):
        what, fix = EXPLAIN.get(i, ("", ""))
        if what:
            summary.append(f"{i}: {what} Fix: {fix}")
    report = replace(
        result.vulnerable, tool="demo", notes=(*summary, *result.vulnerable.notes, *guard.notes)
    )
    return render_html(report)


def err(message: str) -> None:
    """Progress and status go to stderr; the reports go to stdout."""
    click.echo(message, err=True)


@contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (``kill PID``, a service manager, a container stop) ends the demo as
    Ctrl-C does: through the same cleanup. Only the main thread may set a handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _wait_for_ctrl_c() -> None:
    stop = threading.Event()
    while not stop.wait(0.5):
        pass


def _curl_lines(demo: Demo) -> str:
    vuln, guard = demo.servers["vulnerable"].base, demo.servers["guarded"].base
    a, b = demo.key("alice"), demo.key("bob")
    lines = ["Demo keys (throwaway, for this run only):"]
    lines += [f"  {c.name}{' (no scope)' if c.low else ''}: {c.key}" for c in demo.creds]
    lines += [
        "",
        "The common way: Alice warms the cache, then Bob and an anonymous caller get her data:",
        f"  curl -s -H 'X-API-Key: {a}' {vuln}/invoices   # alice",
        f"  curl -s -H 'X-API-Key: {b}' {vuln}/invoices   # bob gets alice's invoices",
        f"  curl -s {vuln}/invoices   # so does a caller with no key",
        "Poison the profile's links with one header; every later caller gets them:",
        f"  curl -s -H 'X-Forwarded-Host: evil.example' -H 'X-API-Key: {a}' {vuln}/profile",
        f"  curl -s {vuln}/profile",
        "",
        "Guarded by cacheward: each caller gets their own data, or a 401:",
        f"  curl -si -H 'X-API-Key: {a}' {guard}/invoices",
        f"  curl -si -H 'X-API-Key: {b}' {guard}/invoices",
        f"  curl -si {guard}/invoices",
        f"  curl -si -H 'X-API-Key: {b}' {guard}/accounts/alice",
        "",
        "Both APIs keep running until Ctrl-C.",
    ]
    return "\n".join(lines)


@click.command("demo", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default="cacheward-demo.html",
    show_default=True,
    help="Where to write the HTML report.",
)
@click.option("--serve", is_flag=True, help="Keep both APIs running after the scan (Ctrl-C stops).")
def demo_command(output: str, serve: bool) -> None:
    """Show the bug and the cure: scan an API cached the common way and the same API
    guarded by cacheward, side by side (everything on 127.0.0.1, nothing to install)."""
    tty = sys.stdout.isatty()
    if importlib.util.find_spec("flask_caching") is None:
        err("cacheward demo: error: the API built the common way needs Flask-Caching:")
        err('  pip install "cacheward[demo]"   (uv run from a clone has it already)')
        sys.exit(2)
    err(f"cacheward demo: starting two versions of the same API on 127.0.0.1 ({len(PATHS)} routes)")
    try:
        with _sigterm_as_ctrl_c(), Demo() as demo:
            redact = Redactor(demo.creds)
            urls = {name: demo.servers[name].base for name, _ in _SIDES}
            for name, title in _SIDES:
                err(f"  {title}: {urls[name]}")
            err("  keys issued for alice, bob and eve (eve holds no scope)")
            err("scanning both APIs with the cacheward scanner ...")
            result = _scan(demo)
            if tty:
                _rich(result, urls)
            else:
                click.echo(redact(_plain(result, urls)), nl=False)
            Path(output).write_text(redact(html_report(result, urls)), encoding="utf-8")
            click.echo(f"\nWrote {output} (open it in a browser for every finding's evidence).")
            if not result.as_expected:
                err("cacheward demo: the scan did not show what it should (see above)")
            if serve:
                try:  # Ctrl-C is how --serve ends, even while the lines are printed
                    click.echo("\n" + _curl_lines(demo))
                    _wait_for_ctrl_c()
                except KeyboardInterrupt:
                    err("\nstopping both APIs")
    except KeyboardInterrupt:
        err("\ncacheward demo: interrupted; stopped both APIs")
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - any crash is exit 2, with a message, not a traceback
        err(f"cacheward demo: error: {type(exc).__name__}: {exc}")
        sys.exit(2)
    sys.exit(0 if result.as_expected else 2)


def _scan(demo: Demo) -> DemoResult:
    """Scan both APIs, showing progress on stderr (a rich bar on a terminal)."""
    labels = dict(_SIDES)
    if not sys.stderr.isatty():
        steps: dict[str, Progress] = {n: _Step(labels[n], None, sys.stderr) for n in labels}
        return demo.scan(steps)
    from rich.console import Console
    from rich.progress import Progress as RichProgress

    with RichProgress(console=Console(stderr=True), transient=True) as bar:
        steps = {n: _Step(labels[n], bar, sys.stderr) for n in labels}
        return demo.scan(steps)
