"""Section 3: over HTTP, gunicorn (2 sync workers) + wrk on loopback, interleaved rounds."""

from __future__ import annotations

import contextlib
import re
import shutil
import statistics
import subprocess
import urllib.request

from .apps import API_KEY, LABELS, PATH, Unavailable, make_app
from .budget import Budget
from .report import Section, Target
from .servers import gunicorn

HTTP_VARIANTS = ("b", "c", "d", "e", "f")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
WRK_CONNECTIONS = 4


def _seconds(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(output: str) -> tuple[float, float]:
    """Requests per second and p99 latency (seconds) from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if rps is None or p99 is None:
        raise RuntimeError(f"cannot read wrk output:\n{output}")
    return float(rps.group(1)), _seconds(p99.group(1))


def _wrk(port: int, seconds: float) -> tuple[float, float]:
    duration = max(1, round(seconds))  # wrk takes whole seconds
    args = ["wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{duration}s", "--latency"]
    args += ["-H", f"X-API-Key: {API_KEY}", f"http://127.0.0.1:{port}{PATH}"]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if errors:
        raise RuntimeError(f"wrk got {errors.group(1)} error responses on port {port}")
    return parse_wrk(done.stdout)


def run(budget: Budget, redis_url: str | None) -> Section:
    s = Section(
        "3. Over HTTP",
        f"gunicorn with 2 sync workers per variant and `wrk -t1 -c{WRK_CONNECTIONS}"
        " --latency` on loopback, all on the same machine (wrk and the workers share its"
        " CPUs). Every server is started first; then each round runs wrk once against each"
        " variant in turn, rotating the order.",
    )
    missing = [tool for tool in ("wrk",) if shutil.which(tool) is None]
    if missing:
        s.notes.append(f"skipped: {', '.join(missing)} not installed")
        return s
    variants = []
    for v in HTTP_VARIANTS:
        try:
            make_app(v, redis_url)
            variants.append(v)
        except Unavailable as e:
            s.notes.append(f"({v}) {LABELS[v]}: skipped, {e}.")
    rps: dict[str, list[float]] = {v: [] for v in variants}
    p99: dict[str, list[float]] = {v: [] for v in variants}
    with contextlib.ExitStack() as stack:
        ports = {v: stack.enter_context(gunicorn(v, redis_url)) for v in variants}
        for port in ports.values():
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}{PATH}", headers={"X-API-Key": API_KEY}
            )
            for _ in range(4):  # both workers fill their caches
                with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
                    assert resp.status == 200
            _wrk(port, min(1.0, budget.http_seconds))
        for r in range(budget.http_rounds):
            k = r % len(variants)
            for v in variants[k:] + variants[:k]:
                got = _wrk(ports[v], budget.http_seconds)
                rps[v].append(got[0])
                p99[v].append(got[1])

    def ratio(num: str, den: str) -> float | None:
        if num not in rps or den not in rps:
            return None
        return statistics.median(a / b for a, b in zip(rps[num], rps[den], strict=True))

    rows = []
    for v in variants:
        vs = [ratio(v, base) for base in ("b", "c")]
        rows.append(
            [f"({v})", LABELS[v], f"{statistics.median(rps[v]):,.0f}"]
            + ["–" if x is None else f"{x:.2f}x" for x in vs]
            + [f"{statistics.median(p99[v]) * 1e3:.2f}"]
        )
    s.table(["", "variant", "req/s (median)", "vs (b)", "vs (c)", "p99 ms (median)"], rows)
    s.notes.append(
        f"{budget.http_rounds} round(s) of {budget.http_seconds:g} s per variant; req/s"
        " ratios are medians of per-round ratios (higher is faster)."
    )
    db = ratio("d", "b")
    if db is not None:
        s.targets.append(Target("(d) vs (b), req/s over HTTP", f"{db:.2f}x", "report", None))
    dc = ratio("d", "c")
    if dc is not None:
        s.targets.append(Target("(d) vs (c), req/s over HTTP", f"{dc:.2f}x", "report", None))
    fe = ratio("f", "e")
    s.targets.append(
        Target(
            "(f) vs (e), req/s over HTTP",
            "–" if fe is None else f"{fe:.2f}x",
            "> 1.00x (faster)",
            None if fe is None else fe > 1.0,
        )
    )
    return s
