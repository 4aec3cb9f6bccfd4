"""Reading ``Cache-Control`` and ``Vary`` the way a shared cache would."""

from __future__ import annotations

from .exchange import ProbeResponse


def directives(resp: ProbeResponse) -> dict[str, str]:
    """``Cache-Control`` directives, names lower-cased, values unquoted."""
    out: dict[str, str] = {}
    for part in resp.header("cache-control").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            out[name.lower()] = value.strip().strip('"').lower()
    return out


def vary(resp: ProbeResponse) -> set[str]:
    return {v.strip().lower() for v in resp.header("vary").split(",") if v.strip()}


def forbids_shared_storage(resp: ProbeResponse) -> bool:
    """``private`` or ``no-store``: no shared cache may keep this response."""
    cc = directives(resp)
    return "private" in cc or "no-store" in cc


def explicitly_shared(resp: ProbeResponse) -> bool:
    """Directives that let a shared cache store even an ``Authorization`` response."""
    cc = directives(resp)
    return bool({"public", "s-maxage", "must-revalidate"} & cc.keys())
