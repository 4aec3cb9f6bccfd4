"""Renderers of one findings list, shared by ``scan`` and ``check``."""

from __future__ import annotations

from enum import Enum

from ..core.finding import Report


class Format(Enum):
    """Output formats of ``scan`` and ``check``."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    HTML = "html"


def render(report: Report, fmt: Format, *, color: bool = False) -> str:
    """Render ``report`` as ``fmt``."""
    if fmt is Format.JSON:
        from .json import render_json

        return render_json(report)
    if fmt is Format.SARIF:
        from .sarif import render_sarif

        return render_sarif(report)
    if fmt is Format.HTML:
        from .html import render_html

        return render_html(report)
    from .text import render_text

    return render_text(report, color=color)


__all__ = ["Format", "render"]
