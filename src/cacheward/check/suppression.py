"""Inline suppression: ``# cacheward: ignore[ID, ID] reason``.

A suppression applies to findings on its own line. It must give a reason after the
bracket; one that does not still suppresses, but is itself reported as
``suppression-without-reason`` so that review sees it.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass

_COMMENT = re.compile(r"#\s*cacheward:\s*ignore\b(?:\[(?P<ids>[^\]]*)\])?(?P<reason>.*)$")

#: The id of the finding for a suppression that gives no reason.
NO_REASON_ID = "suppression-without-reason"


@dataclass(frozen=True)
class Suppression:
    """One ``# cacheward: ignore`` comment.

    :param ids: rule ids it silences; empty means every rule.
    """

    line: int
    column: int
    ids: frozenset[str]
    reason: str

    def covers(self, rule_id: str) -> bool:
        return not self.ids or rule_id in self.ids


def suppressions(text: str) -> dict[int, Suppression]:
    """The suppressions in ``text``, by line; comments only, never string contents."""
    found: dict[int, Suppression] = {}
    if "cacheward:" not in text:
        return found
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type != tokenize.COMMENT:
                continue
            match = _COMMENT.search(tok.string)
            if match is None:
                continue
            ids = frozenset(i.strip() for i in (match["ids"] or "").split(",") if i.strip())
            # The reason ends where another tool's comment starts (a second "#").
            reason = match["reason"].split("#", 1)[0].strip().lstrip("-:—–").strip()
            found[tok.start[0]] = Suppression(tok.start[0], tok.start[1], ids, reason)
    except (tokenize.TokenError, SyntaxError):
        return found
    return found
