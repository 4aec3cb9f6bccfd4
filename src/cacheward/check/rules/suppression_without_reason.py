"""``suppression-without-reason``: a ``# cacheward: ignore`` that says not why."""

from __future__ import annotations

from collections.abc import Iterator

from ...core.finding import Confidence, Severity
from ..model import AppModel
from ..registry import Issue, rule
from ..suppression import NO_REASON_ID


@rule(
    NO_REASON_ID,
    Severity.LOW,
    Confidence.HIGH,
    cwe=None,
    title="Suppression comment gives no reason",
    fix="Say why the finding does not apply after the bracket:"
    " # cacheward: ignore[unkeyed-header] header is set by our proxy, never by clients.",
)
def suppression_without_reason(model: AppModel) -> Iterator[Issue]:
    """A ``# cacheward: ignore[ID]`` comment with nothing after it.

    The suppression still applies (so a run is not blocked twice), but review should
    see why a caching finding was judged safe. Reported by the runner, which reads the
    comments; this function finds nothing in the model.

    Vulnerable::

        @cache.cached(timeout=60)  # cacheward: ignore[identity-unkeyed]

    Fixed::

        @cache.cached(timeout=60)  # cacheward: ignore[identity-unkeyed] g.user only logged
    """
    return iter(())
