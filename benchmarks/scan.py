"""Section 5: ``cacheward scan`` against the project's vulnerable target, and the request
budget of Web-Cache-Vulnerability-Scanner (WCVS) for comparison."""

from __future__ import annotations

import collections
import importlib.util
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import make_server

from .budget import Budget
from .cli import cacheward_command, has_subcommand
from .report import Section, Target
from .servers import ROOT, free_port

TARGET = ROOT / "tests" / "targets" / "vulnerable.py"
#: WCVS's published default wordlists (github.com/Hackmanit/Web-Cache-Vulnerability-Scanner,
#: wordlists/headers and wordlists/parameters): it sends about one request per name, per URL.
WCVS_HEADER_NAMES = 1118
WCVS_PARAMETER_NAMES = 6452
WCVS_REQUESTS_PER_URL = WCVS_HEADER_NAMES + WCVS_PARAMETER_NAMES
MAX_REQUESTS_PER_ENDPOINT = 400

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _load_target() -> Any:
    spec = importlib.util.spec_from_file_location("cacheward_bench_target", TARGET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _counting(app: WSGIApp, counts: collections.Counter[str]) -> WSGIApp:
    lock = threading.Lock()

    def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            counts[environ.get("PATH_INFO", "")] += 1
        return app(environ, start_response)

    return counted


def run(budget: Budget) -> Section:
    s = Section(
        "5. Scanner",
        "`cacheward scan` against `tests/targets/vulnerable.py` served on a loopback port;"
        f" WCVS's budget is its wordlists, {WCVS_HEADER_NAMES:,} header and"
        f" {WCVS_PARAMETER_NAMES:,} parameter names at about one request each, so about"
        f" {WCVS_REQUESTS_PER_URL:,} requests per URL.",
    )
    if not TARGET.exists() or not has_subcommand("scan"):
        s.notes.append(
            "not available yet: `cacheward scan` or `tests/targets/vulnerable.py` is missing"
            " on this branch (written on branch `scan`)."
        )
        s.targets.append(
            Target(
                "scanner: planted bugs found, requests/endpoint",
                "–",
                f"all, ≤ {MAX_REQUESTS_PER_ENDPOINT}",
                None,
            )
        )
        return s
    module = _load_target()
    app = module.create_app() if hasattr(module, "create_app") else module.app
    endpoints = sorted(r.rule for r in app.url_map.iter_rules() if r.endpoint != "static")
    counts: collections.Counter[str] = collections.Counter()
    port = free_port()
    server = make_server("127.0.0.1", port, _counting(app.wsgi_app, counts), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        t0 = time.perf_counter()
        done = subprocess.run(
            [*cacheward_command(), "scan", f"http://127.0.0.1:{port}/", "--format", "json"],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        seconds = time.perf_counter() - t0
    finally:
        server.shutdown()
        thread.join()
    total = sum(counts.values())
    per_endpoint = total / max(1, len(endpoints))
    findings: list[Any] = []
    try:
        data = json.loads(done.stdout)
        findings = data.get("findings", data) if isinstance(data, dict) else data
    except json.JSONDecodeError:
        s.notes.append(f"could not read the scan's JSON (exit {done.returncode}).")
    planted = getattr(module, "PLANTED", None)
    s.table(
        ["measure", "value"],
        [
            ["endpoints in the target", str(len(endpoints))],
            ["requests sent", f"{total:,}"],
            ["requests per endpoint", f"{per_endpoint:,.0f}"],
            ["WCVS requests per URL (wordlists)", f"{WCVS_REQUESTS_PER_URL:,}"],
            ["seconds for the full scan", f"{seconds:.1f}"],
            ["findings", str(len(findings))],
            ["planted bugs (target's PLANTED)", "–" if planted is None else str(len(planted))],
            ["exit code", str(done.returncode)],
        ],
    )
    found_all = None if planted is None else len(findings) >= len(planted)
    s.targets.append(
        Target(
            "scanner: planted bugs found, requests/endpoint",
            f"{len(findings)} findings, {per_endpoint:,.0f} req/endpoint"
            f" (WCVS ~{WCVS_REQUESTS_PER_URL:,})",
            f"all, ≤ {MAX_REQUESTS_PER_ENDPOINT}",
            None if found_all is None else found_all and per_endpoint <= MAX_REQUESTS_PER_ENDPOINT,
        )
    )
    s.notes.append(
        "Findings are matched to planted bugs by count only; check the scan's report for"
        " which bug each finding names."
    )
    return s
