"""``set-cookie-cacheable`` (passive): a response that sets a cookie may be cached.

A shared cache that stores it hands one visitor's cookie (often a session) to everyone.
Flagged when any principal's (or no key's) baseline sets a cookie without ``private``,
``no-store`` or ``no-cache="Set-Cookie"``.
"""

from __future__ import annotations

from ...core.finding import Finding, Severity
from ..cachecontrol import directives, explicitly_shared, forbids_shared_storage
from ..context import ProbeContext
from .base import finding, who


def look(ctx: ProbeContext) -> list[Finding]:
    """Look at every baseline; sends nothing."""
    for name, resp in ctx.baselines.items():
        if not resp.header("set-cookie") or forbids_shared_storage(resp):
            continue
        if "set-cookie" in directives(resp).get("no-cache", ""):
            continue
        cookie_names = sorted(
            {c.split("=", 1)[0].strip() for c in resp.header("set-cookie").split(",") if "=" in c}
        )
        return [
            finding(
                ctx,
                "set-cookie-cacheable",
                Severity.HIGH if explicitly_shared(resp) else Severity.MEDIUM,
                "A response that sets a cookie may be stored by a shared cache",
                "Send Cache-Control: private or no-store on any response with Set-Cookie"
                ' (or no-cache="Set-Cookie"), and never mark it public.',
                cwe=524,
                evidence={
                    "principal": name or who(None),
                    "cookies": cookie_names,
                    "cache-control": resp.header("cache-control") or "(none)",
                },
            )
        ]
    return []
