"""A report with scan and check findings, some carrying hostile strings."""

from __future__ import annotations

from cacheward.core.finding import Confidence, Finding, Report, Severity

XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
XSS_URL = 'https://api.example.test/x?q="><script>window.__pwned=3</script>'


def sample_report() -> Report:
    findings = (
        Finding(
            id="cross-key-leak",
            severity=Severity.CRITICAL,
            title="A response made for one key is served to another key",
            remediation="Put `@ward.cached` below `@ward.protected`, keyed by principal.",
            cwe=524,
            method="GET",
            url="https://api.example.test/report",
            evidence={
                "key_a": "cw_abcdefghijkl_…",
                "key_b": "cw_mnopqrstuvwx_…",
                "body_sha256_a": "9f2c…",
                "served_to_b": True,
            },
            steps=(
                "GET /report?cb=7f3a with key A -> 200 (owner=alice)",
                "GET /report?cb=7f3a with key B -> 200 (owner=alice)  # A's body",
            ),
        ),
        Finding(
            id="anonymous-cache-leak",
            severity=Severity.CRITICAL,
            title="An anonymous caller gets a keyed response",
            remediation="Authenticate before the cache lookup: use `@ward.protected()`.",
            method="GET",
            url="https://api.example.test/report",
            steps=("GET /report?cb=1 with key A -> 200", "GET /report?cb=1 without key -> 200"),
        ),
        Finding(
            id="unkeyed-header",
            severity=Severity.HIGH,
            title=f"Unkeyed header changes the response {XSS}",
            remediation=f"Add the header to `vary=`. {XSS}",
            confidence=Confidence.MEDIUM,
            method="GET",
            url=XSS_URL,
            evidence={"header": "X-Forwarded-Host", "reflected": XSS, "nested": {"a": [1, 2]}},
            steps=(f"GET / with X-Forwarded-Host: {XSS}",),
        ),
        Finding(
            id="cached-before-auth",
            severity=Severity.HIGH,
            title="@cache.cached is above the auth decorator",
            remediation="Use `ward.protected` then `ward.cached`, in that order.",
            path="app/views.py",
            line=42,
            column=0,
            evidence={"decorators": ["app.route", "cache.cached", "auth.login_required"]},
        ),
        Finding(
            id="key-in-url",
            severity=Severity.MEDIUM,
            title="The API accepts its key in the query string",
            remediation="Refuse keys in URLs (the guard's default): send `X-API-Key`.",
            method="GET",
            url="https://api.example.test/report?api_key=cw_…",
        ),
        Finding(
            id="cacheable-authenticated",
            severity=Severity.LOW,
            title="An authenticated response has no Cache-Control",
            remediation="Let the guard set `Cache-Control: private`.",
            method="GET",
            url="https://api.example.test/catalog",
            evidence={"cache-control": None},
        ),
        Finding(
            id="shared-reads-principal",
            severity=Severity.INFO,
            title="A shared route mentions current_principal",
            remediation="Use `scope='principal'`.",
            path="app/catalog.py",
        ),
    )
    return Report(
        tool="scan",
        version="0.1.0",
        targets=("https://api.example.test", XSS),
        findings=findings,
        stats={"requests": 128, "duration_s": 3.2, "endpoints": 4},
        notes=("Every probe carried a cache buster.", XSS),
    )
